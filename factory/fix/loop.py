"""The test-fix loop: run the conversations, ask the patcher, keep only patches that help.

Each candidate spec is tested as a copy in a private temporary folder (a copy of the spec's folder,
so relative prompt files and modules resolve); the user's file changes only when a patch is kept,
and never under `--dry-run`. Caps are always on: iterations, LLM calls and wall-clock time. Whatever
`fix.editable` allows, a patch may never change what code runs or where: tools, models, `serve`,
`fix`, and the kind, code, tools and sub-spec of a node are out of its reach.

With `fix.holdout` (see `factory.fix.holdout`) the patcher never sees the held-out conversations,
and a patch that breaks one of them is rejected. Tested patches become candidates of a Pareto set
(`factory.fix.pareto`); the spec holds the best candidate that breaks nothing, and the next patch
is asked for on it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factory.errors import SpecError
from factory.fix.holdout import Holdout, held_out, redact
from factory.fix.outcome import Attempt, CandidateRecord, FixOutcome, Rates, StopReason
from factory.fix.pareto import Candidate, Pool
from factory.fix.patch import PatchProposal, PatchRejected, apply_to_text, check_editable, patched_data
from factory.fix.patcher import Patcher, PatcherRequest
from factory.language.loader import load_spec
from factory.language.models import Spec
from factory.testing.records import RunReport

__all__ = ["Attempt", "CandidateRecord", "FixOutcome", "Rates", "RunTests", "StopReason", "fix_spec"]

RunTests = Callable[[Path], Awaitable[RunReport]]


_PROTECTED_TOP = ("models", "default_model", "tools", "serve", "fix", "tests")
_PROTECTED_NODE = ("kind", "function", "tool", "tools", "spec", "model")
_COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "__pycache__", "node_modules", "generated", ".factory")


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


def _scores(report: RunReport) -> dict[str, float]:
    """Conversation -> its pass rate: a candidate's score on each conversation, as GEPA scores instances."""
    return {r.name: r.pass_rate for r in report.results}


@dataclass
class _Loop:
    spec: Path
    patcher: Patcher
    run_tests: RunTests
    schema: dict[str, Any]
    dry_run: bool
    on_progress: Callable[[str], None]
    outcome: FixOutcome
    parsed: Spec
    hidden: list[str]
    pool: Pool
    reports: dict[int, RunReport]
    """Candidate id -> its test run (the failures the patcher is shown come from the parent's)."""

    def rates(self, passing: set[str] | list[str]) -> Rates:
        visible = [r.name for r in self.reports[0].results if r.name not in self.hidden]
        return Rates(visible=sum(n in passing for n in visible), visible_total=len(visible),
                     held_out=sum(n in passing for n in self.hidden), held_out_total=len(self.hidden))

    def request(self, parent: Candidate, editable: list[str]) -> PatcherRequest:
        """What the patcher sees: the parent's text without the held-out conversations, the failures of the
        others, and every rejected patch with a reason that names no held-out conversation."""
        failures = [f.model_dump(mode="json") for f in self.reports[parent.id].failures()
                    if f.conversation not in self.hidden]
        return PatcherRequest(spec_text=redact(parent.text, self.parsed, self.hidden), editable=editable,
                              schema=self.schema, failures=failures,
                              rejected=[{"operations": a.operations, "reason": a.feedback or a.reason}
                                        for a in self.outcome.attempts if a.verdict == "rejected"])

    async def iterate(self, iteration: int, editable: list[str]) -> None:
        parent = self.pool.applied()
        request = self.request(parent, editable)
        attempt = Attempt(iteration=iteration, verdict="rejected", reason="", passed_before=len(parent.passing),
                          parent=parent.id)
        self.outcome.attempts.append(attempt)
        try:
            proposal = await self.patcher.propose(request)
            attempt.rationale, attempt.operations = proposal.rationale, proposal.operations
            new_text, report = await _evaluate(self.spec, parent.text, proposal, editable, self.run_tests)
        except PatchRejected as exc:
            attempt.reason = exc.reason
            self.on_progress(f"iteration {iteration}: rejected: {exc.reason}")
            return
        self.judge(attempt, parent, new_text, report)
        self.on_progress(f"iteration {iteration}: {attempt.verdict}: {attempt.reason}")

    def judge(self, attempt: Attempt, parent: Candidate, text: str, report: RunReport) -> None:
        """Keep the patch, or reject it (and say why); a patch that fixes something joins the pool unless it
        breaks a held-out conversation."""
        now, before = _passing(report), set(parent.passing)
        attempt.passed_after, attempt.rates = len(now), self.rates(now)
        attempt.broke, attempt.fixed = sorted(before - now), sorted(now - before)
        broke_hidden = [n for n in attempt.broke if n in self.hidden]
        if broke_hidden:
            attempt.reason = (f"breaks held-out conversations that passed: {broke_hidden} (the patcher never saw "
                              f"them); {attempt.rates}")
            attempt.feedback = (f"rejected: it breaks {len(broke_hidden)} conversation(s) held out of your sight; "
                                "find a change that does not")
            return
        if attempt.fixed:
            candidate = self.pool.add(Candidate(id=len(self.pool.candidates), iteration=attempt.iteration,
                                                parent=parent.id, scores=_scores(report), passing=sorted(now),
                                                text=text, broke=attempt.broke))
            self.reports[candidate.id] = report
            attempt.candidate = candidate.id
        visible_broke = [n for n in attempt.broke if n not in self.hidden]
        if attempt.broke:
            attempt.reason = f"breaks conversations that passed: {attempt.broke}"
            attempt.feedback = f"breaks conversations that passed: {visible_broke}"
        elif len(now) <= len(before):
            attempt.reason = f"passes no more conversations ({len(now)}/{self.outcome.total})"
        else:
            attempt.verdict, attempt.reason = "kept", f"fixes {attempt.fixed}"
        if attempt.candidate is not None and attempt.verdict == "rejected":
            attempt.reason += f" (kept as candidate #{attempt.candidate} of the Pareto set, never applied)"
        applied = self.pool.applied()
        if applied.id != parent.id and not self.dry_run:
            self.spec.write_text(applied.text, "utf-8")


async def fix_spec(spec: Path, *, patcher: Patcher, run_tests: RunTests, schema: dict[str, Any],
                   max_iterations: int | None = None, dry_run: bool = False, holdout: Holdout | None = None,
                   on_progress: Callable[[str], None] = lambda _m: None,
                   on_done: Callable[[FixOutcome], None] = lambda _o: None) -> FixOutcome:
    """Run the loop on `spec`. `holdout` overrides `fix.holdout` (a command-line flag's value); `on_done` gets
    the outcome even when the loop fails or is interrupted."""
    parsed = load_spec(spec).spec
    settings = parsed.fix
    iterations = max_iterations or settings.max_iterations
    started = time.monotonic()
    text = spec.read_text("utf-8")
    outcome = FixOutcome(spec=str(spec), stop="error", total=0, passed_before=0, passed_after=0, llm_calls=0,
                         attempts=[], original_text=text, final_text=text, duration_s=0.0, dry_run=dry_run,
                         holdout=held_out(parsed, holdout))
    loop = _Loop(spec, patcher, run_tests, schema, dry_run, on_progress, outcome, parsed, outcome.holdout, Pool(),
                 {})
    try:
        report = await run_tests(spec)
        passing = _passing(report)
        loop.reports[0] = report
        loop.pool.add(Candidate(id=0, iteration=0, parent=None, scores=_scores(report), passing=sorted(passing),
                                text=text))
        outcome.total, outcome.passed_before, outcome.passed_after = len(report.results), len(passing), len(passing)
        outcome.baseline = loop.rates(passing)
        on_progress(f"baseline: {len(passing)}/{outcome.total} conversations pass ({outcome.baseline})")
        outcome.stop = await _run(loop, patcher, settings, iterations, started)
    except BaseException as exc:
        outcome.stop = "interrupted" if isinstance(exc, KeyboardInterrupt | SystemExit) else "error"
        outcome.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        _finish(loop, patcher, started)
        on_done(outcome)
    return outcome


async def _run(loop: _Loop, patcher: Patcher, settings: Any, iterations: int, started: float) -> StopReason:
    """Iterate until every visible conversation passes or a cap is reached; returns why it stopped."""
    iteration = 0
    while True:
        applied = loop.pool.applied()
        rates = loop.rates(applied.passing)
        if rates.visible == rates.visible_total:
            return "green" if rates.held_out == rates.held_out_total else "train_green"
        if iteration >= iterations:
            return "max_iterations"
        if patcher.calls >= settings.max_llm_calls:
            return "max_llm_calls"
        if time.monotonic() - started > settings.max_wall_s:
            return "wall_clock"
        iteration += 1
        await loop.iterate(iteration, settings.editable)
        applied = loop.pool.applied()
        loop.outcome.iterations.append((iteration, applied.id, loop.rates(applied.passing)))


def _finish(loop: _Loop, patcher: Patcher, started: float) -> None:
    """The outcome's summary: what the spec holds now, why, and the Pareto set."""
    outcome, pool = loop.outcome, loop.pool
    outcome.llm_calls = patcher.calls
    outcome.duration_s = round(time.monotonic() - started, 2)
    if not pool.candidates:
        return
    applied = pool.applied()
    outcome.applied, outcome.final_text, outcome.passed_after = applied.id, applied.text, len(applied.passing)
    front = pool.front()
    outcome.pareto = [CandidateRecord(id=c.id, iteration=c.iteration, parent=c.parent, rates=loop.rates(c.passing),
                                      best_on=pool.best_on(c), broke=list(c.broke),
                                      diff=_diff(outcome.spec, outcome.original_text, c.text)) for c in front]
    others = [c for c in front if c.id != applied.id]
    why = (f"candidate #{applied.id} is applied: of the Pareto set's candidates that break no conversation that "
           f"passed, it passes the most ({len(applied.passing)}/{outcome.total}; {loop.rates(applied.passing)})")
    if applied.id == 0:
        why = "the spec is unchanged: no candidate fixed a conversation without breaking one that passed"
    if others:
        why += "; also in the Pareto set: " + "; ".join(
            f"#{c.id} (best on {len(pool.best_on(c))} conversation(s)"
            + (f", breaks {c.broke})" if c.broke else ")") for c in others)
    outcome.applied_reason = why


def _diff(spec: str, before: str, after: str) -> str:
    import difflib

    name = Path(spec).name
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"a/{name}", tofile=f"b/{name}"))
