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
from typing import TYPE_CHECKING, Any, cast

from factory.client import ClientError
from factory.testing import expectations as checks
from factory.testing.coverage import compute_coverage
from factory.testing.records import (
    ConversationResult,
    ExpectationKind,
    ExpectationResult,
    FailureRecord,
    Message,
    RunReport,
    SpecPosition,
    TestCaseResult,
    ToolCall,
    Totals,
    TurnResult,
)
from graphs.events import EndEvent, ErrorEvent, MetadataEvent, StateEvent, ToolEvent

if TYPE_CHECKING:
    from factory.client import Client
    from factory.language.loader import LoadedSpec
    from factory.language.models import TestCase
    from factory.testing.judge import Judge
    from graphs.plan import Plan

__all__ = ["Selection", "case_passes", "position", "run_case", "run_conversation", "run_tests", "select_tests"]

JUDGE_SCRIPT_KEY = "judge"
"""Key of a test's `script` whose entries are the offline judge's verdicts, in order."""

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


def position(loaded: LoadedSpec, path: tuple[str | int, ...]) -> SpecPosition:
    pos = loaded.source.at(path)
    return SpecPosition(file=loaded.source.file, line=pos.line, column=pos.column,
                        pointer="".join(f"/{part}" for part in path))


async def _drive(target: Client, message: str, *, thread_id: str | None, script: dict[str, list[Any]] | None,
                 mocks: dict[str, Any] | None, turn: TurnResult) -> str | None:
    """Run one turn and fill `turn` from its events; returns the thread id.

    The `end` event already says what the turn replied, which nodes it visited, whether it paused
    and how long it took (`first_token_ms`/`total_ms` as the agent measured them, or as the client
    did when the wire has no `end` of its own); only tool calls, the state and a failure are read
    from their own events.
    """
    try:
        async for event in target.turn(message, thread_id=thread_id, script=script, mocks=mocks):
            if isinstance(event, MetadataEvent):
                thread_id = event.thread_id
            elif isinstance(event, ToolEvent):
                turn.tools.append(ToolCall(name=event.name, args=event.args, result=event.result, node=event.node))
            elif isinstance(event, StateEvent):
                turn.state = dict(event.values)
            elif isinstance(event, ErrorEvent):
                turn.error = event.to_data()
            elif isinstance(event, EndEvent):
                turn.reply, turn.path, turn.interrupted = event.reply, list(event.path), event.interrupted
                turn.first_token_ms, turn.total_ms = event.first_token_ms, event.total_ms
    except ClientError as exc:
        if not exc.turn_scoped:
            raise  # the target itself is unusable (down, refusing the key or the script): stop the run
        turn.error = ErrorEvent.of(exc.code, exc.message).to_data()
    return thread_id


def _turn_script(loaded: LoadedSpec, case: TestCase) -> tuple[dict[str, list[Any]], list[Any]]:
    """The script for the agent, and the scripted judge verdicts (the `judge` key, unless a node has that id)."""
    script = dict(case.script)
    if JUDGE_SCRIPT_KEY in script and JUDGE_SCRIPT_KEY not in loaded.spec.nodes:
        return script, list(script.pop(JUDGE_SCRIPT_KEY))
    return script, []


async def run_conversation(loaded: LoadedSpec, index: int, case: TestCase, *, target: Client, judge: Judge,
                           attempt: int = 1) -> ConversationResult:
    """One attempt at one conversation: every turn in order, every expectation checked."""
    started = time.perf_counter()
    script, verdicts = _turn_script(loaded, case)
    result = ConversationResult(name=case.name, attempt=attempt, passed=False)
    transcript: list[Message] = []
    thread: str | None = None
    for t, spec_turn in enumerate(case.turns):
        turn = TurnResult(index=t, user=spec_turn.user)
        first = t == 0
        thread = await _drive(target, spec_turn.user, thread_id=thread, script=script if first else None,
                              mocks=dict(case.mocks) if first else None, turn=turn)
        result.thread_id = thread
        transcript += [Message(role="user", text=spec_turn.user), Message(role="assistant", text=turn.reply)]
        if turn.error is not None:
            turn.expectations.append(ExpectationResult(
                kind="turn", expected="the turn completes", passed=False, seen=turn.error,
                message=f"the turn failed: {turn.error.get('code')}: {turn.error.get('message')}",
                position=position(loaded, ("tests", index, "turns", t, "user"))))
        else:
            for e, expect in enumerate(spec_turn.expect):
                kind, expected = checks.expected_value(expect)
                scripted = verdicts.pop(0) if kind == "judge" and verdicts else None
                verdict = await checks.check(expect, turn, judge_with=judge, scripted_verdict=scripted,
                                             transcript=[m.model_dump() for m in transcript])
                turn.expectations.append(ExpectationResult(
                    kind=cast(ExpectationKind, kind), expected=expected, passed=verdict.passed, seen=verdict.seen,
                    message=verdict.message,
                    position=position(loaded, ("tests", index, "turns", t, "expect", e)), index=e))
        result.turns.append(turn)
        result.failures += [_failure(loaded, case, attempt, turn, exp, transcript) for exp in turn.expectations
                            if not exp.passed]
        if turn.error is not None:
            break  # later turns would only repeat the failure
    result.passed = not result.failures
    result.duration_ms = round((time.perf_counter() - started) * 1000, 2)
    return result


def _failure(loaded: LoadedSpec, case: TestCase, attempt: int, turn: TurnResult, exp: ExpectationResult,
             transcript: list[Message]) -> FailureRecord:
    return FailureRecord(spec=loaded.source.file, conversation=case.name, attempt=attempt, turn=turn.index,
                         user=turn.user, transcript=list(transcript), expectation=exp, seen=exp.seen,
                         path=list(turn.path), state=dict(turn.state), tools=list(turn.tools), error=turn.error)


def _case_result(loaded: LoadedSpec, index: int, case: TestCase, attempts: list[ConversationResult]) -> TestCaseResult:
    passed = sum(1 for a in attempts if a.passed)
    return TestCaseResult(
        name=case.name, tags=list(case.tags), position=position(loaded, ("tests", index)),
        attempts=sorted(attempts, key=lambda a: a.attempt), passed_attempts=passed,
        pass_rate=round(passed / len(attempts), 4) if attempts else 0.0, min_pass_rate=case.min_pass_rate,
        passed=case_passes(passed, len(attempts), case.min_pass_rate))


async def run_case(loaded: LoadedSpec, index: int, case: TestCase, *, target: Client, judge: Judge,
                   repeat: int | None = None, jobs: int = 1, progress: Progress | None = None) -> TestCaseResult:
    """Every attempt (`repeat`, or the override) at one conversation, and its pass-rate verdict."""
    report = await _run_units(loaded, [(index, case)], target=target, judge=judge, repeat=repeat, jobs=jobs,
                              progress=progress)
    return report[0]


async def _run_units(loaded: LoadedSpec, cases: list[tuple[int, TestCase]], *, target: Client, judge: Judge,
                     repeat: int | None, jobs: int, progress: Progress | None) -> list[TestCaseResult]:
    gate = asyncio.Semaphore(max(1, jobs))
    attempts: dict[int, list[ConversationResult]] = {i: [] for i, _ in cases}

    async def one(index: int, case: TestCase, attempt: int, total: int) -> None:
        async with gate:
            if progress:
                progress(case.name, attempt, total, None)
            result = await run_conversation(loaded, index, case, target=target, judge=judge, attempt=attempt)
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
    """Run the selected conversations of one spec (the target must already be entered)."""
    started = time.perf_counter()
    cases = select_tests(loaded, selection)
    results = await _run_units(loaded, cases, target=target, judge=judge, repeat=repeat, jobs=jobs,
                               progress=progress)
    turns = [turn for r in results for a in r.attempts for turn in a.turns]
    report = RunReport(spec=loaded.source.file, agent=loaded.spec.name, target=target.description, model=model,
                       results=results, coverage=compute_coverage(loaded, turns), totals=_totals(results),
                       duration_ms=round((time.perf_counter() - started) * 1000, 2))
    return report


def _totals(results: list[TestCaseResult]) -> Totals:
    attempts = [a for r in results for a in r.attempts]
    expectations = [e for a in attempts for t in a.turns for e in t.expectations]
    return Totals(conversations=len(results), passed=sum(r.passed for r in results),
                  failed=sum(not r.passed for r in results), attempts=len(attempts),
                  attempts_passed=sum(a.passed for a in attempts), turns=sum(len(a.turns) for a in attempts),
                  expectations=len(expectations), expectations_failed=sum(not e.passed for e in expectations))
