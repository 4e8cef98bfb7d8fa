"""Run a spec's `tests:` conversations against a target and judge every turn.

The one public entry point is `run_tests(loaded, plan, target=..., ...) -> RunReport`; the CLI,
the pytest plugin and the fix loop all call it.
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from factory.testing.conversation import UserFactory, position, run_conversation, user_factory
from factory.testing.coverage import compute_coverage
from factory.testing.records import ConversationResult, RunReport, TestCaseResult, Totals

if TYPE_CHECKING:
    from factory.client import Client
    from factory.language.loader import LoadedSpec
    from factory.language.models import TestCase
    from factory.testing.judge import Judge
    from graphs.plan import Plan

__all__ = ["Selection", "case_passes", "position", "run_case", "run_conversation", "run_tests", "select_tests"]

Progress = Callable[[str, int, int, "ConversationResult | None"], None]
"""`(conversation, attempt, attempts, result)`: called when an attempt starts (result None) and ends."""


@dataclass
class Selection:
    """Which conversations to run: `-k PATTERN` and `--tag T` of the CLI."""

    pattern: str | None = None
    """A case-insensitive substring of the name, or a glob (`*`, `?`) matched against the whole name."""
    tags: Sequence[str] = field(default_factory=tuple)
    """Keep conversations that have at least one of these tags."""

    def keeps(self, case: TestCase) -> bool:
        if self.tags and not set(self.tags) & set(case.tags):
            return False
        if not self.pattern:
            return True
        pattern, name = self.pattern.lower(), case.name.lower()
        if any(ch in pattern for ch in "*?["):
            return fnmatch.fnmatchcase(name, pattern)
        return pattern in name


def select_tests(loaded: LoadedSpec, selection: Selection | None = None) -> list[tuple[int, TestCase]]:
    """`(index in tests, case)` of the conversations the selection keeps."""
    selection = selection or Selection()
    return [(i, case) for i, case in enumerate(loaded.spec.tests) if selection.keeps(case)]


def case_passes(passed: int, attempts: int, min_pass_rate: float) -> bool:
    """`passed / attempts >= min_pass_rate` (with a tolerance for float rounding)."""
    return attempts > 0 and passed >= min_pass_rate * attempts - 1e-9


def _case_result(loaded: LoadedSpec, index: int, case: TestCase, attempts: list[ConversationResult]) -> TestCaseResult:
    passed = sum(1 for a in attempts if a.passed)
    return TestCaseResult(
        name=case.name, tags=list(case.tags), position=position(loaded, ("tests", index)),
        attempts=sorted(attempts, key=lambda a: a.attempt), passed_attempts=passed,
        pass_rate=round(passed / len(attempts), 4) if attempts else 0.0, min_pass_rate=case.min_pass_rate,
        passed=case_passes(passed, len(attempts), case.min_pass_rate))


async def run_case(loaded: LoadedSpec, index: int, case: TestCase, *, target: Client, judge: Judge,
                   repeat: int | None = None, jobs: int = 1, progress: Progress | None = None,
                   users: UserFactory | None = None) -> TestCaseResult:
    """Every attempt (`repeat`, or the override) at one conversation, and its pass-rate verdict."""
    report = await _run_units(loaded, [(index, case)], target=target, judge=judge, repeat=repeat, jobs=jobs,
                              progress=progress, users=users)
    return report[0]


async def _run_units(loaded: LoadedSpec, cases: list[tuple[int, TestCase]], *, target: Client, judge: Judge,
                     repeat: int | None, jobs: int, progress: Progress | None,
                     users: UserFactory | None) -> list[TestCaseResult]:
    gate = asyncio.Semaphore(max(1, jobs))
    attempts: dict[int, list[ConversationResult]] = {i: [] for i, _ in cases}

    async def one(index: int, case: TestCase, attempt: int, total: int) -> None:
        async with gate:
            if progress:
                progress(case.name, attempt, total, None)
            result = await run_conversation(loaded, index, case, target=target, judge=judge, attempt=attempt,
                                            users=users)
            attempts[index].append(result)
            if progress:
                progress(case.name, attempt, total, result)

    units = []
    for index, case in cases:
        total = repeat or case.repeat
        units += [one(index, case, attempt, total) for attempt in range(1, total + 1)]
    await asyncio.gather(*units)
    return [_case_result(loaded, index, case, attempts[index]) for index, case in cases]


async def run_tests(loaded: LoadedSpec, plan: Plan, *, target: Client, judge: Judge,
                    selection: Selection | None = None, repeat: int | None = None, jobs: int = 1,
                    model: str | None = None, progress: Progress | None = None) -> RunReport:
    """Run the selected conversations of one spec (the target must already be entered); `model` is the run's
    override, which also decides who plays a simulated user."""
    started = time.perf_counter()
    cases = select_tests(loaded, selection)
    results = await _run_units(loaded, cases, target=target, judge=judge, repeat=repeat, jobs=jobs,
                               progress=progress, users=user_factory(loaded, plan, model))
    played = [(r.name, a.turns) for r in results for a in r.attempts]
    report = RunReport(spec=loaded.source.file, agent=loaded.spec.name, target=target.description, model=model,
                       results=results, coverage=compute_coverage(loaded, played), totals=_totals(results),
                       duration_ms=round((time.perf_counter() - started) * 1000, 2))
    return report


def _totals(results: list[TestCaseResult]) -> Totals:
    attempts = [a for r in results for a in r.attempts]
    expectations = [e for a in attempts for t in a.turns for e in t.expectations] + [
        e for a in attempts for e in a.at_end]
    return Totals(conversations=len(results), passed=sum(r.passed for r in results),
                  failed=sum(not r.passed for r in results), attempts=len(attempts),
                  attempts_passed=sum(a.passed for a in attempts), turns=sum(len(a.turns) for a in attempts),
                  expectations=len(expectations), expectations_failed=sum(not e.passed for e in expectations))
