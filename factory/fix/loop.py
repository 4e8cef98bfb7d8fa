"""The test-fix loop: run the conversations, ask the patcher, keep only patches that help.

Each candidate spec is tested as a copy in a private temporary folder (a copy of the spec's folder,
so relative prompt files and modules resolve); the user's file changes only when a patch is kept,
and never under `--dry-run`. Caps are always on: iterations, LLM calls and wall-clock time. Whatever
`fix.editable` allows, a patch may never change what code runs or where: tools, models, `serve`,
`fix`, and the kind, code, tools and sub-spec of a node are out of its reach.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from factory.errors import SpecError
from factory.fix.patch import PatchProposal, PatchRejected, apply_to_text, check_editable, patched_data
from factory.fix.patcher import Patcher, PatcherRequest
from factory.language.loader import load_spec
from factory.testing.records import RunReport

__all__ = ["Attempt", "FixOutcome", "RunTests", "fix_spec"]

RunTests = Callable[[Path], Awaitable[RunReport]]
StopReason = Literal["green", "max_iterations", "max_llm_calls", "wall_clock", "error", "interrupted"]

_PROTECTED_TOP = ("models", "default_model", "tools", "serve", "fix", "tests")
_PROTECTED_NODE = ("kind", "function", "tool", "tools", "spec", "model")
_COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "__pycache__", "node_modules", "generated", ".factory")


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
    error: str | None = None

    @property
    def green(self) -> bool:
        return self.stop == "green" and self.passed_after == self.total


def _passing(report: RunReport) -> set[str]:
    return {r.name for r in report.results if r.passed}


def check_protected(before: Any, after: Any) -> None:
    """Refuse a patch that changes what code runs, whatever `fix.editable` says."""
    for key in _PROTECTED_TOP:
        if before.get(key) != after.get(key):
            raise PatchRejected(f"the patch changes `{key}`, which the fix loop never changes")
    old_nodes, new_nodes = before.get("nodes", {}), after.get("nodes", {})
    if set(old_nodes) != set(new_nodes):
        raise PatchRejected("the patch adds or removes nodes, which the fix loop never does")
    for node_id, node in new_nodes.items():
        for key in _PROTECTED_NODE:
            if isinstance(node, dict) and isinstance(old_nodes[node_id], dict) and \
                    node.get(key) != old_nodes[node_id].get(key):
                raise PatchRejected(f"the patch changes `{key}` of node {node_id!r}, which the fix loop never changes")


@contextmanager
def _sandbox(spec: Path) -> Iterator[Path]:
    """A private copy of the spec's folder; yields where the candidate spec goes."""
    folder = spec.resolve().parent  # `agent.yaml` run from its folder has the parent `.`, whose name is ''
    with tempfile.TemporaryDirectory(prefix="factory-fix-") as tmp:
        copy = Path(tmp) / (folder.name or "spec")
        shutil.copytree(folder, copy, ignore=_COPY_IGNORE, symlinks=True)
        yield copy / spec.name


async def _evaluate(spec: Path, text: str, proposal: PatchProposal, editable: list[str],
                    run_tests: RunTests) -> tuple[str, RunReport]:
    """Apply, validate and test a proposal on a private copy. Raises `PatchRejected`."""
    check_editable(proposal, editable)
    before, after = patched_data(text, proposal)
    check_protected(before, after)
    new_text = apply_to_text(text, proposal)
    with _sandbox(spec) as candidate:
        candidate.write_text(new_text, "utf-8")
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


@dataclass
class _Loop:
    spec: Path
    patcher: Patcher
    run_tests: RunTests
    schema: dict[str, Any]
    dry_run: bool
    on_progress: Callable[[str], None]
    outcome: FixOutcome

    async def iterate(self, iteration: int, text: str, report: RunReport, passing: set[str],
                      editable: list[str]) -> tuple[str, RunReport, set[str]]:
        request = PatcherRequest(spec_text=text, editable=editable, schema=self.schema,
                                 failures=[f.model_dump(mode="json") for f in report.failures()],
                                 rejected=[{"operations": a.operations, "reason": a.reason}
                                           for a in self.outcome.attempts if a.verdict == "rejected"])
        attempt = Attempt(iteration=iteration, verdict="rejected", reason="", passed_before=len(passing))
        self.outcome.attempts.append(attempt)
        try:
            proposal = await self.patcher.propose(request)
            attempt.rationale, attempt.operations = proposal.rationale, proposal.operations
            new_text, new_report = await _evaluate(self.spec, text, proposal, editable, self.run_tests)
        except PatchRejected as exc:
            attempt.reason = exc.reason
            self.on_progress(f"iteration {iteration}: rejected: {exc.reason}")
            return text, report, passing
        now = _passing(new_report)
        attempt.passed_after = len(now)
        attempt.broke, attempt.fixed = sorted(passing - now), sorted(now - passing)
        if attempt.broke:
            attempt.reason = f"breaks conversations that passed: {attempt.broke}"
        elif len(now) <= len(passing):
            attempt.reason = f"passes no more conversations ({len(now)}/{self.outcome.total})"
        else:
            attempt.verdict, attempt.reason = "kept", f"fixes {attempt.fixed}"
            if not self.dry_run:
                self.spec.write_text(new_text, "utf-8")
            self.on_progress(f"iteration {iteration}: kept: {attempt.reason}")
            return new_text, new_report, now
        self.on_progress(f"iteration {iteration}: rejected: {attempt.reason}")
        return text, report, passing


async def fix_spec(spec: Path, *, patcher: Patcher, run_tests: RunTests, schema: dict[str, Any],
                   max_iterations: int | None = None, dry_run: bool = False,
                   on_progress: Callable[[str], None] = lambda _m: None,
                   on_done: Callable[[FixOutcome], None] = lambda _o: None) -> FixOutcome:
    """Run the loop on `spec`. `on_done` gets the outcome even when the loop fails or is interrupted."""
    settings = load_spec(spec).spec.fix
    iterations = max_iterations or settings.max_iterations
    started = time.monotonic()
    text = spec.read_text("utf-8")
    outcome = FixOutcome(spec=str(spec), stop="error", total=0, passed_before=0, passed_after=0, llm_calls=0,
                         attempts=[], original_text=text, final_text=text, duration_s=0.0, dry_run=dry_run)
    loop = _Loop(spec, patcher, run_tests, schema, dry_run, on_progress, outcome)
    try:
        report = await run_tests(spec)
        passing = _passing(report)
        outcome.total, outcome.passed_before, outcome.passed_after = len(report.results), len(passing), len(passing)
        on_progress(f"baseline: {len(passing)}/{outcome.total} conversations pass")
        iteration = 0
        outcome.stop = "green"
        while len(passing) < outcome.total:
            if iteration >= iterations:
                outcome.stop = "max_iterations"
            elif patcher.calls >= settings.max_llm_calls:
                outcome.stop = "max_llm_calls"
            elif time.monotonic() - started > settings.max_wall_s:
                outcome.stop = "wall_clock"
            if outcome.stop != "green":
                break
            iteration += 1
            text, report, passing = await loop.iterate(iteration, text, report, passing, settings.editable)
            outcome.final_text, outcome.passed_after = text, len(passing)
    except BaseException as exc:
        outcome.stop = "interrupted" if isinstance(exc, KeyboardInterrupt | SystemExit) else "error"
        outcome.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        outcome.llm_calls = patcher.calls
        outcome.duration_s = round(time.monotonic() - started, 2)
        on_done(outcome)
    return outcome
