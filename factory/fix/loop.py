"""The test-fix loop: run the conversations, ask the patcher, keep only patches that help.

A candidate spec is written beside the original (so relative prompt files and modules resolve)
and tested there; the user's file changes only when a patch is kept, and never under `--dry-run`.
Caps are always on: iterations, LLM calls and wall-clock time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from factory.errors import SpecError
from factory.fix.patch import PatchProposal, PatchRejected, apply_to_text, check_editable
from factory.fix.patcher import Patcher, PatcherRequest
from factory.spec.loader import load_spec
from factory.testing.records import RunReport

__all__ = ["Attempt", "FixOutcome", "RunTests", "fix_spec"]

RunTests = Callable[[Path], Awaitable[RunReport]]
StopReason = Literal["green", "max_iterations", "max_llm_calls", "wall_clock"]


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

    @property
    def green(self) -> bool:
        return self.passed_after == self.total


def _passing(report: RunReport) -> set[str]:
    return {r.name for r in report.results if r.passed}


def _candidate_path(spec: Path) -> Path:
    return spec.with_name(f".{spec.stem}.fix-candidate{spec.suffix}")


async def _evaluate(spec: Path, text: str, proposal: PatchProposal, editable: list[str],
                    run_tests: RunTests) -> tuple[str, RunReport]:
    """Apply, validate and test a proposal on a candidate file. Raises `PatchRejected`."""
    check_editable(proposal, editable)
    new_text = apply_to_text(text, proposal)
    candidate = _candidate_path(spec)
    candidate.write_text(new_text, "utf-8")
    try:
        try:
            loaded = load_spec(candidate)
        except SpecError as exc:
            raise PatchRejected("the patched spec is invalid: " + "; ".join(
                f"line {i.line}: {i.message}" for i in exc.issues[:5])) from None
        try:
            from factory.compiler import compile_plan

            compile_plan(loaded)
        except Exception as exc:  # a plan that does not compile is a rejected patch, not a crash
            raise PatchRejected(f"the patched spec does not compile: {exc}") from None
        return new_text, await run_tests(candidate)
    finally:
        candidate.unlink(missing_ok=True)


async def fix_spec(spec: Path, *, patcher: Patcher, run_tests: RunTests, schema: dict[str, Any],
                   max_iterations: int | None = None, dry_run: bool = False,
                   on_progress: Callable[[str], None] = lambda _m: None) -> FixOutcome:
    """Run the loop on `spec`; returns what happened (the caller writes the reports)."""
    settings = load_spec(spec).spec.fix
    iterations = max_iterations or settings.max_iterations
    started = time.monotonic()
    original = text = spec.read_text("utf-8")
    report = await run_tests(spec)
    passing, total = _passing(report), len(report.results)
    before = len(passing)
    on_progress(f"baseline: {before}/{total} conversations pass")
    attempts: list[Attempt] = []
    stop: StopReason = "green"
    iteration = 0
    while len(passing) < total:
        if iteration >= iterations:
            stop = "max_iterations"
            break
        if patcher.calls >= settings.max_llm_calls:
            stop = "max_llm_calls"
            break
        if time.monotonic() - started > settings.max_wall_s:
            stop = "wall_clock"
            break
        iteration += 1
        request = PatcherRequest(spec_text=text, editable=settings.editable, schema=schema,
                                 failures=[f.model_dump(mode="json") for f in report.failures()],
                                 rejected=[{"operations": a.operations, "reason": a.reason}
                                           for a in attempts if a.verdict == "rejected"])
        attempt = Attempt(iteration=iteration, verdict="rejected", reason="", passed_before=len(passing))
        try:
            proposal = await patcher.propose(request)
            attempt.rationale, attempt.operations = proposal.rationale, proposal.operations
            new_text, new_report = await _evaluate(spec, text, proposal, settings.editable, run_tests)
        except PatchRejected as exc:
            attempt.reason = exc.reason
            attempts.append(attempt)
            on_progress(f"iteration {iteration}: rejected: {exc.reason}")
            continue
        now = _passing(new_report)
        attempt.passed_after = len(now)
        attempt.broke, attempt.fixed = sorted(passing - now), sorted(now - passing)
        if attempt.broke:
            attempt.reason = f"breaks conversations that passed: {attempt.broke}"
        elif len(now) <= len(passing):
            attempt.reason = f"passes no more conversations ({len(now)}/{total})"
        else:
            attempt.verdict, attempt.reason = "kept", f"fixes {attempt.fixed}"
            text, passing, report = new_text, now, new_report
            if not dry_run:
                spec.write_text(text, "utf-8")
        attempts.append(attempt)
        on_progress(f"iteration {iteration}: {attempt.verdict}: {attempt.reason}")
    return FixOutcome(spec=str(spec), stop=stop, total=total, passed_before=before, passed_after=len(passing),
                      llm_calls=patcher.calls, attempts=attempts, original_text=original, final_text=text,
                      duration_s=round(time.monotonic() - started, 2), dry_run=dry_run)
