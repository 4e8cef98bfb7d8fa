"""`factory test --mutate`: how much a conversation suite protects its spec.

Every mutant of the spec (`factory.testing.mutants`) is validated like any spec; the valid ones are
run against the selected conversations, in-process with the run's model, each on a fresh agent. A
mutant is *killed* when a conversation fails on it (a run that exceeds the time limit counts as
killed too), and *survives* when every conversation still passes: the suite would not have noticed
that fault. The score is killed / (killed + survived). Mutants that are not valid specs are counted
and skipped; prompt mutants are not run on the scripted model, which ignores prompts.

With `jobs > 1` the mutants run in a pool of worker processes (each builds its own agents, so
nothing is shared); with one job they run one after the other in this process.
"""

from __future__ import annotations

import asyncio
import difflib
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from factory.errors import ExitCode, SpecError, UserError
from factory.testing.mutants import Mutant, Operator, generate_mutants
from factory.testing.records import SpecPosition

if TYPE_CHECKING:
    from factory.language.loader import LoadedSpec
    from factory.testing.runner import Selection

__all__ = ["MutantResult", "MutantStatus", "MutationReport", "arun_mutation", "run_mutation"]

MutantStatus = Literal["killed", "survived", "invalid", "not_run", "error"]
MIN_TIMEOUT_S = 5.0
"""A mutant's run may take this long, or 10 times the unmutated run, whichever is longer: a mutant that
makes the agent loop would end in LangGraph's recursion limit (an error, so killed) only after minutes."""


class MutantResult(BaseModel):
    """One mutant and what the suite made of it."""

    model_config = ConfigDict(extra="forbid")

    id: int
    operator: Operator
    description: str
    position: SpecPosition
    status: MutantStatus
    detail: str = ""
    """Killed: the first failure (or the time limit); invalid: the first problem; not run: why."""
    killed_by: list[str] = Field(default_factory=list)
    """The conversations that failed on it."""
    diff: str = ""
    duration_ms: float = 0.0


class MutationReport(BaseModel):
    """The mutation score of one spec's suite, and every mutant."""

    model_config = ConfigDict(extra="forbid")

    spec: str
    agent: str
    model: str | None = None
    conversations: int = 0
    mutants: list[MutantResult] = Field(default_factory=list)
    workers: int = 1
    duration_ms: float = 0.0

    def count(self, status: MutantStatus) -> int:
        return sum(m.status == status for m in self.mutants)

    @property
    def score(self) -> float | None:
        """killed / (killed + survived); None when no mutant ran."""
        ran = self.count("killed") + self.count("survived")
        return round(self.count("killed") / ran, 4) if ran else None

    @property
    def counts(self) -> dict[str, int]:
        """Mutants per status."""
        return {status: self.count(status) for status in ("killed", "survived", "invalid", "not_run", "error")}

    def to_json(self) -> dict[str, Any]:
        """The report as JSON data, with its score and counts."""
        return {**self.model_dump(mode="json"), "score": self.score, "counts": self.counts}

    @property
    def survivors(self) -> list[MutantResult]:
        return [m for m in self.mutants if m.status == "survived"]


OnResult = Callable[[MutantResult], None]
Outcome = tuple[MutantStatus, str, list[str], float]
"""(status, detail, the conversations that failed, seconds it took)."""


def _evaluate(folder: str, file: str, text: str, model: str | None, pattern: str | None, tags: tuple[str, ...],
              timeout_s: float) -> Outcome:
    """Validate one mutant and run the selected conversations on it, timed where it runs.

    A module-level function so that worker processes can run it.
    """
    began = time.perf_counter()
    status, detail, failed = _verdict(folder, file, text, model, pattern, tags, timeout_s)
    return status, detail, failed, time.perf_counter() - began


def _verdict(folder: str, file: str, text: str, model: str | None, pattern: str | None, tags: tuple[str, ...],
             timeout_s: float) -> tuple[MutantStatus, str, list[str]]:
    from factory.compiler import compile_plan
    from factory.language.loader import load_spec_text
    from factory.testing.runner import Selection
    from factory.testing.session import arun_spec

    try:
        loaded = load_spec_text(text, file=file, folder=Path(folder))
        plan = compile_plan(loaded)
    except SpecError as exc:
        first = exc.issues[0]
        return "invalid", f"line {first.line}: {first.message}", []
    except Exception as exc:  # a plan that does not compile is an invalid mutant, never a crash
        return "invalid", f"does not compile: {exc}", []

    async def run() -> Any:
        return await asyncio.wait_for(arun_spec(loaded, plan=plan, model=model,
                                                selection=Selection(pattern=pattern, tags=tags)), timeout_s)

    try:
        report = asyncio.run(run())
    except TimeoutError:
        return "killed", f"the conversations did not finish within {timeout_s:g} s", []
    except Exception as exc:  # a mutant that breaks the run itself is reported, not raised
        return "error", f"{type(exc).__name__}: {exc}", []
    failed = [r.name for r in report.results if not r.passed]
    if not failed:
        return "survived", "", []
    failures = report.failures()
    reason = failures[0].expectation.message if failures else "pass rate too low"
    return "killed", reason, failed


def _diff(file: str, before: str, after: str) -> str:
    name = Path(file).name
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"a/{name}", tofile=f"b/{name}", n=1))


def _offline(loaded: LoadedSpec, model: str | None) -> bool:
    """Whether every node's model is the scripted one, which ignores prompts."""
    if model:
        return model.partition(":")[0] == "scripted"
    return all(m.provider == "scripted" for m in loaded.spec.models.values())


def _prepare(loaded: LoadedSpec) -> list[tuple[Mutant, str, SpecPosition, str | None]]:
    """Each mutant with its text and position; the text is None (and the reason given) when it cannot be written."""
    from factory.fix.patch import PatchProposal, PatchRejected, apply_to_text
    from factory.language._yaml import load_yaml

    data, _source, issues = load_yaml(loaded.text, loaded.source.file)
    assert not issues, "a loaded spec parses"
    out = []
    for mutant in generate_mutants(loaded, data):
        pos = loaded.source.at(mutant.path)
        where = SpecPosition(file=loaded.source.file, line=pos.line, column=pos.column,
                             pointer="/" + "/".join(map(str, mutant.path)))
        try:
            text: str | None = apply_to_text(loaded.text, PatchProposal(mutant.operations, mutant.description))
        except PatchRejected as exc:
            text, where.pointer = None, f"{where.pointer} ({exc.reason})"
        out.append((mutant, text or "", where, None if text is not None else "the mutant cannot be written"))
    return out


async def arun_mutation(loaded: LoadedSpec, *, model: str | None = None, selection: Selection | None = None,
                        jobs: int = 1, on_result: OnResult | None = None) -> MutationReport:
    """Run the selected conversations against every valid mutant of `loaded` (the suite must pass unmutated);
    `on_result` hears of each mutant as it is decided.

    Raises:
        UserError: the suite fails on the spec as it is (a mutation score means nothing then).
    """
    from factory.testing.runner import Selection, select_tests
    from factory.testing.session import arun_spec
    from factory.testing.targets import effective_model

    started = time.perf_counter()
    selection = selection or Selection()
    override = effective_model(model)
    baseline = await arun_spec(loaded, model=model, selection=selection)
    if not baseline.passed:
        raise UserError(f"{loaded.source.file}: the conversations fail on the spec as it is "
                        f"({baseline.totals.failed} of {baseline.totals.conversations}); a mutation score needs a "
                        "passing suite", hint="run `factory test` first and fix what fails",
                        exit_code=ExitCode.TESTS_FAILED)
    timeout_s = max(MIN_TIMEOUT_S, 10 * baseline.duration_ms / 1000)
    offline = _offline(loaded, override)
    report = MutationReport(spec=loaded.source.file, agent=loaded.spec.name, model=override,
                            conversations=len(select_tests(loaded, selection)), workers=max(1, jobs))
    args = (str(loaded.folder), loaded.source.file, override, selection.pattern, tuple(selection.tags), timeout_s)
    pending: list[tuple[MutantResult, str]] = []
    for i, (mutant, text, where, problem) in enumerate(_prepare(loaded), 1):
        result = MutantResult(id=i, operator=mutant.operator, description=mutant.description, position=where,
                              status="not_run", diff=_diff(loaded.source.file, loaded.text, text) if text else "")
        report.mutants.append(result)
        if problem:
            result.status, result.detail = "invalid", problem
        elif mutant.needs_model and offline:
            result.detail = "the scripted model ignores prompts: run with a real model (--model openai:NAME)"
        else:
            pending.append((result, text))
    await _run_pending(pending, args, jobs=jobs, on_result=on_result)
    report.duration_ms = round((time.perf_counter() - started) * 1000, 2)
    return report


async def _run_pending(pending: list[tuple[MutantResult, str]], args: tuple[Any, ...], *, jobs: int,
                       on_result: OnResult | None) -> None:
    folder, file, model, pattern, tags, timeout_s = args

    def done(result: MutantResult, outcome: Outcome) -> None:
        result.status, result.detail, result.killed_by, seconds = outcome
        result.duration_ms = round(seconds * 1000, 2)
        if on_result is not None:
            on_result(result)

    if jobs <= 1:
        for result, text in pending:
            done(result, await asyncio.to_thread(_evaluate, folder, file, text, model, pattern, tags, timeout_s))
        return
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        async def one(result: MutantResult, text: str) -> None:
            done(result, await loop.run_in_executor(pool, _evaluate, folder, file, text, model, pattern, tags,
                                                    timeout_s))

        await asyncio.gather(*(one(result, text) for result, text in pending))


def run_mutation(loaded: LoadedSpec, **options: Any) -> MutationReport:
    """`arun_mutation` for synchronous callers."""
    return asyncio.run(arun_mutation(loaded, **options))
