"""What a fix run produces, as data: each attempt, the candidates of the Pareto set, the pass rates per
iteration on the visible and the held-out conversations. `factory.fix.report` writes it as Markdown
and JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Attempt", "CandidateRecord", "FixOutcome", "Rates", "StopReason"]

StopReason = Literal["green", "train_green", "max_iterations", "max_llm_calls", "wall_clock", "error",
                     "interrupted"]
"""`train_green`: every conversation the patcher sees passes, some held-out ones still fail (it cannot see them)."""


@dataclass
class Rates:
    """Pass counts on the conversations the patcher sees (`visible`) and on the held-out ones."""

    visible: int
    visible_total: int
    held_out: int = 0
    held_out_total: int = 0

    def __str__(self) -> str:
        held = f", held-out {self.held_out}/{self.held_out_total}" if self.held_out_total else ""
        return f"visible {self.visible}/{self.visible_total}{held}"


@dataclass
class Attempt:
    """One patch the patcher proposed, and what became of it."""

    iteration: int
    verdict: Literal["kept", "rejected"]
    reason: str
    rationale: str = ""
    operations: list[dict[str, Any]] = field(default_factory=list)
    passed_before: int = 0
    passed_after: int | None = None
    broke: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    parent: int = 0
    """The candidate the patch was made on (0: the spec as it was)."""
    candidate: int | None = None
    """The candidate this patch became (None: it joined no Pareto set: invalid, useless, or breaking a held-out one)."""
    rates: Rates | None = None
    """The patched spec's pass counts (None when it was not tested)."""
    feedback: str = ""
    """What the patcher is told about the rejection (never the name of a held-out conversation)."""


@dataclass
class CandidateRecord:
    """A candidate as the report shows it."""

    id: int
    iteration: int
    parent: int | None
    rates: Rates
    best_on: list[str]
    broke: list[str]
    diff: str


@dataclass
class FixOutcome:
    spec: str
    stop: StopReason
    total: int
    passed_before: int
    passed_after: int
    llm_calls: int
    attempts: list[Attempt]
    original_text: str
    final_text: str
    duration_s: float
    dry_run: bool
    error: str | None = None
    holdout: list[str] = field(default_factory=list)
    """The conversations the patcher never saw."""
    baseline: Rates | None = None
    pareto: list[CandidateRecord] = field(default_factory=list)
    """The Pareto set when the loop stopped."""
    applied: int = 0
    """The candidate the spec holds now (0: the spec as it was)."""
    applied_reason: str = ""
    iterations: list[tuple[int, int, Rates]] = field(default_factory=list)
    """(iteration, candidate applied after it, its rates)."""

    @property
    def green(self) -> bool:
        return self.stop == "green" and self.passed_after == self.total
