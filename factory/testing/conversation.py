"""One attempt at one conversation: the fixed turns, then the simulated ones, every expectation checked.

`run_conversation` is what `factory.testing.runner` runs for each attempt. A turn's events are read
from the target (`factory.client`), summarised into a `TurnResult` and judged; a simulated
conversation then lets its simulated user (`factory.testing.simulation`) write each next message
until `stop_when` holds, `max_turns` are played or the user is done, and checks `at_end`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from factory.client import ClientError
from factory.language.conversation_checks import SIMULATED_USER_KEY
from factory.testing import expectations as checks_
from factory.testing.records import (
    ConversationResult,
    ExpectationKind,
    ExpectationResult,
    ExpectationScope,
    FailureRecord,
    Message,
    Simulation,
    SpecPosition,
    ToolCall,
    TurnResult,
)
from factory.testing.simulation import SimulatedUser, SimulationUnavailable, UserFailed, make_user
from graphs.events import EndEvent, ErrorEvent, MetadataEvent, StateEvent, ToolEvent

if TYPE_CHECKING:
    from factory.client import Client
    from factory.language.loader import LoadedSpec
    from factory.language.models import Expectation, TestCase
    from factory.testing.judge import Judge
    from graphs.plan import Plan

__all__ = ["JUDGE_SCRIPT_KEY", "UserFactory", "position", "run_conversation", "user_factory", "whole_conversation"]

JUDGE_SCRIPT_KEY = "judge"
"""Key of a test's `script` whose entries are the offline judge's verdicts, in order."""

UserFactory = Callable[["TestCase", list[Any]], SimulatedUser]
"""`(conversation, its script.user) -> the simulated user of one attempt`."""


def user_factory(loaded: LoadedSpec, plan: Plan, override: str | None) -> UserFactory:
    """Who plays the simulated users of a run: `make_user` with the run's model override."""

    def users(case: TestCase, lines: list[Any]) -> SimulatedUser:
        return make_user(loaded, plan, case, override=override, script=lines)

    return users


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


def _turn_script(loaded: LoadedSpec, case: TestCase) -> tuple[dict[str, list[Any]], list[Any], list[Any]]:
    """The script for the agent, the scripted judge verdicts (the `judge` key, unless a node has that id)
    and the scripted user's messages (the `user` key of a simulated conversation)."""
    script = dict(case.script)
    verdicts = list(script.pop(JUDGE_SCRIPT_KEY)) if JUDGE_SCRIPT_KEY in script and \
        JUDGE_SCRIPT_KEY not in loaded.spec.nodes else []
    user = list(script.pop(SIMULATED_USER_KEY, [])) if case.simulate is not None else []
    return script, verdicts, user


Check = tuple["ExpectationScope", int, "Expectation"]
"""Where an expectation is written (its list and index in it), and the expectation."""


@dataclass
class _Conversation:
    """One attempt in progress: the thread, the transcript, and the verdicts so far."""

    loaded: LoadedSpec
    index: int
    case: TestCase
    target: Client
    judge: Judge
    result: ConversationResult
    script: dict[str, list[Any]]
    verdicts: list[Any]
    thread: str | None = None

    async def play(self, user: str, checks: list[Check], *, simulated: bool, at: tuple[str | int, ...]) -> TurnResult:
        """One turn: send `user`, read its events, check `checks` (unless the turn failed)."""
        t = len(self.result.turns)
        turn = TurnResult(index=t, user=user, simulated=simulated)
        first = t == 0
        self.thread = await _drive(self.target, user, thread_id=self.thread, script=self.script if first else None,
                                   mocks=dict(self.case.mocks) if first else None, turn=turn)
        self.result.thread_id = self.thread
        self.result.transcript += [Message(role="user", text=user), Message(role="assistant", text=turn.reply)]
        if turn.error is not None:
            turn.expectations.append(self._synthetic(
                "turn", "the turn completes", turn.error,
                f"the turn failed: {turn.error.get('code')}: {turn.error.get('message')}", at))
        else:
            turn.expectations += await self.check(checks, turn)
        self.result.turns.append(turn)
        self.fail_on(turn, turn.expectations)
        return turn

    async def check(self, checks: list[Check], turn: TurnResult) -> list[ExpectationResult]:
        out = []
        transcript = [m.model_dump() for m in self.result.transcript]
        for scope, e, expect in checks:
            kind, expected = checks_.expected_value(expect)
            scripted = self.verdicts.pop(0) if kind == "judge" and self.verdicts else None
            verdict = await checks_.check(expect, turn, judge_with=self.judge, scripted_verdict=scripted,
                                          transcript=transcript)
            where = ("turns", turn.index, "expect", e) if scope == "turn" else (scope, e)
            out.append(ExpectationResult(
                kind=cast(ExpectationKind, kind), expected=expected, passed=verdict.passed, seen=verdict.seen,
                message=verdict.message, position=position(self.loaded, ("tests", self.index, *where)), index=e,
                scope=scope))
        return out

    def _synthetic(self, kind: ExpectationKind, expected: str, seen: Any, message: str,
                   at: tuple[str | int, ...]) -> ExpectationResult:
        return ExpectationResult(kind=kind, expected=expected, passed=False, seen=seen, message=message,
                                 position=position(self.loaded, ("tests", self.index, *at)))

    def fail_on(self, turn: TurnResult, verdicts: list[ExpectationResult]) -> None:
        self.result.failures += [_failure(self.loaded, self.case, self.result, turn, exp)
                                 for exp in verdicts if not exp.passed]

    def fail_simulation(self, message: str, *, at: tuple[str | int, ...] = ("simulate",)) -> None:
        """The simulated part could not go on: a failure of the whole conversation, at `simulate` (or `at`)."""
        exp = self._synthetic("simulate", "a simulated user plays the conversation", None, message, at)
        exp.scope = "at_end"
        turn = self.result.turns[-1] if self.result.turns else TurnResult(index=0, user="")
        self.fail_on(turn, [exp])
        self.result.at_end.append(exp)


async def run_conversation(loaded: LoadedSpec, index: int, case: TestCase, *, target: Client, judge: Judge,
                           attempt: int = 1, users: UserFactory | None = None) -> ConversationResult:
    """One attempt at one conversation: the fixed turns, then the simulated ones, every expectation checked."""
    started = time.perf_counter()
    script, verdicts, user_lines = _turn_script(loaded, case)
    result = ConversationResult(name=case.name, attempt=attempt, passed=False)
    talk = _Conversation(loaded, index, case, target, judge, result, script, verdicts)
    each: list[Check] = [("each_turn", e, expect) for e, expect in enumerate(case.each_turn)]
    failed = False
    for t, spec_turn in enumerate(case.turns):
        checks: list[Check] = [("turn", e, expect) for e, expect in enumerate(spec_turn.expect)]
        turn = await talk.play(spec_turn.user, checks + each, simulated=False, at=("turns", t, "user"))
        if turn.error is not None:
            failed = True
            break  # later turns would only repeat the failure
    if case.simulate is not None and not failed:
        await _simulate(talk, case, each, users, user_lines)
    result.passed = not result.failures
    result.duration_ms = round((time.perf_counter() - started) * 1000, 2)
    return result


async def _simulate(talk: _Conversation, case: TestCase, each: list[Check], users: UserFactory | None,
                    lines: list[Any]) -> None:
    """The simulated part: the user writes, the agent answers, until `stop_when`, `max_turns` or the user is done;
    then the `at_end` checks."""
    simulate = case.simulate
    assert simulate is not None
    try:
        if users is None:
            raise SimulationUnavailable("no simulated user is available to this run")
        user = users(case, lines)
    except SimulationUnavailable as exc:
        talk.fail_simulation(exc.message)
        return
    sim = talk.result.simulation = Simulation(user=user.name, stopped="max_turns")
    while True:
        last = talk.result.turns[-1] if talk.result.turns else None
        held = _holds(talk, simulate.stop_when, last) if last is not None and simulate.stop_when else False
        if held is None:
            sim.stopped = "stop_when_failed"
            return
        if held:
            sim.stopped = "stop_when"
            break
        if sim.turns >= simulate.max_turns:
            break
        try:
            message = await user.next_message(list(talk.result.transcript))
        except UserFailed as exc:
            sim.stopped = "user_failed"
            talk.fail_simulation(exc.message)
            return
        if message is None:
            sim.stopped = "user_done"
            break
        sim.turns += 1
        if (await talk.play(message, each, simulated=True, at=("simulate",))).error is not None:
            sim.stopped = "turn_failed"
            return
    await _at_end(talk, case)


def _holds(talk: _Conversation, condition: str, turn: TurnResult) -> bool | None:
    """`stop_when` over the turn's state and reply; None (and a failure) when it cannot be evaluated."""
    verdict = checks_.assert_(condition, turn)
    if verdict.passed or verdict.message.startswith("the assertion is false"):
        return verdict.passed
    talk.fail_simulation(verdict.message.replace("the assertion", "`stop_when`", 1), at=("simulate", "stop_when"))
    return None


async def _at_end(talk: _Conversation, case: TestCase) -> None:
    """The `at_end` checks, on the conversation as a whole (see `whole_conversation`)."""
    if not case.at_end or not talk.result.turns:
        return
    whole = whole_conversation(talk.result.turns)
    verdicts = await talk.check([("at_end", e, expect) for e, expect in enumerate(case.at_end)], whole)
    talk.result.at_end += verdicts
    talk.fail_on(whole, verdicts)


def whole_conversation(turns: list[TurnResult]) -> TurnResult:
    """What `at_end` checks read: the last reply and state, every node visited and tool called in order,
    the first turn's time to first token and the conversation's total time."""
    last = turns[-1]
    totals = [t.total_ms for t in turns]
    return TurnResult(index=last.index, user=last.user, simulated=last.simulated, reply=last.reply,
                      path=[node for t in turns for node in t.path], tools=[c for t in turns for c in t.tools],
                      state=dict(last.state), interrupted=last.interrupted, first_token_ms=turns[0].first_token_ms,
                      total_ms=None if None in totals else round(sum(t or 0.0 for t in totals), 2),
                      error=last.error)


def _failure(loaded: LoadedSpec, case: TestCase, result: ConversationResult, turn: TurnResult,
             exp: ExpectationResult) -> FailureRecord:
    upto = 2 * (turn.index + 1) if exp.scope != "at_end" else len(result.transcript)
    return FailureRecord(spec=loaded.source.file, conversation=case.name, attempt=result.attempt, turn=turn.index,
                         user=turn.user, transcript=list(result.transcript[:upto]), expectation=exp, seen=exp.seen,
                         path=list(turn.path), state=dict(turn.state), tools=list(turn.tools), error=turn.error)
