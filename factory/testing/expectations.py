"""One function per expectation kind of a test turn: `(expected, turn) -> Verdict`.

The failure messages are part of the interface (tests snapshot them, the fix loop's patcher reads
them): each names what was expected and what was seen.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from factory.testing.records import TurnResult

if TYPE_CHECKING:
    from factory.language.models import Expectation
    from factory.testing.judge import Judge

__all__ = [
    "Verdict",
    "assert_",
    "check",
    "contains",
    "first_token_ms",
    "judge",
    "matches",
    "not_contains",
    "not_visited",
    "state",
    "subset_mismatch",
    "tool_called",
    "total_ms",
    "visited",
]


@dataclass(frozen=True)
class Verdict:
    passed: bool
    seen: Any
    message: str = ""


def _ok(seen: Any) -> Verdict:
    return Verdict(True, seen)


def _path_text(path: list[str]) -> str:
    return " > ".join(path) if path else "(no node ran)"


def contains(expected: str, turn: TurnResult) -> Verdict:
    """The reply contains `expected` (case-sensitive; use `matches: "(?i)..."` to ignore case)."""
    if expected in turn.reply:
        return _ok(turn.reply)
    return Verdict(False, turn.reply, f"the reply does not contain {expected!r}")


def not_contains(expected: str, turn: TurnResult) -> Verdict:
    if expected not in turn.reply:
        return _ok(turn.reply)
    return Verdict(False, turn.reply, f"the reply contains {expected!r}")


def matches(expected: str, turn: TurnResult) -> Verdict:
    """`re.search` of the pattern in the reply."""
    if re.search(expected, turn.reply):
        return _ok(turn.reply)
    return Verdict(False, turn.reply, f"the reply does not match {expected!r}")


def visited(expected: list[str], turn: TurnResult) -> Verdict:
    """The path visits these nodes in this order; other nodes may come between."""
    position = 0
    previous: str | None = None
    for node in expected:
        try:
            position = turn.path.index(node, position) + 1
        except ValueError:
            where = f" after {previous!r}" if previous is not None else ""
            return Verdict(False, turn.path,
                           f"node {node!r} was not visited{where}; path: {_path_text(turn.path)}")
        previous = node
    return _ok(turn.path)


def not_visited(expected: list[str], turn: TurnResult) -> Verdict:
    hit = [node for node in expected if node in turn.path]
    if not hit:
        return _ok(turn.path)
    names = ", ".join(repr(node) for node in hit)
    return Verdict(False, turn.path, f"node {names} was visited; path: {_path_text(turn.path)}")


def subset_mismatch(expected: Any, seen: Any, where: str) -> str | None:
    """The first place `seen` differs from `expected`: dicts match as subsets (recursively), lists
    and scalars must be equal. `None` when they match."""
    if isinstance(expected, dict):
        if not isinstance(seen, dict):
            return f"{where} is {seen!r}, expected a mapping containing {expected!r}"
        for key, value in expected.items():
            if key not in seen:
                return f"{where}.{key} is missing, expected {value!r}"
            found = subset_mismatch(value, seen[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, bool) or isinstance(seen, bool):
        same = type(expected) is type(seen) and expected == seen
    else:
        same = expected == seen
    return None if same else f"{where} is {seen!r}, expected {expected!r}"


def state(expected: dict[str, Any], turn: TurnResult) -> Verdict:
    """The slots after the turn contain `expected` (nested mappings as subsets, lists equal)."""
    problem = subset_mismatch(expected, turn.state, "state")
    return _ok(turn.state) if problem is None else Verdict(False, turn.state, problem)


def assert_(expected: str, turn: TurnResult) -> Verdict:
    """A CEL expression over `state` and `reply` that must be `true`."""
    from graphs.expressions import CelError, evaluate

    seen = {"state": turn.state, "reply": turn.reply}
    try:
        value = evaluate(expected, seen)
    except CelError as exc:
        return Verdict(False, seen, f"the assertion could not be evaluated: {exc.message}")
    if value is True:
        return _ok(seen)
    if value is False:
        return Verdict(False, seen, f"the assertion is false: {expected}")
    return Verdict(False, seen, f"the assertion gave {value!r}, not a boolean: {expected}")


def tool_called(expected: Any, turn: TurnResult) -> Verdict:
    """A tool of this name was called in the turn, with arguments containing `args` (subset)."""
    name: str = expected["name"]
    args: dict[str, Any] | None = expected.get("args")
    calls: list[dict[str, Any]] = [{"name": t.name, "args": t.args} for t in turn.tools]
    named = [c for c in calls if c["name"] == name]
    if not named:
        others = ", ".join(c["name"] for c in calls) or "none"
        return Verdict(False, calls, f"tool {name!r} was not called; tools called: {others}")
    if args is None or any(subset_mismatch(args, c["args"], "args") is None for c in named):
        return _ok(calls)
    problem = subset_mismatch(args, named[0]["args"], "args")
    return Verdict(False, calls, f"tool {name!r} was called, but not with {args!r}: {problem}")


def first_token_ms(expected: float, turn: TurnResult) -> Verdict:
    """The first token came within `expected` milliseconds of sending the message."""
    seen = turn.first_token_ms
    if seen is None:
        return Verdict(False, None, "no token was streamed")
    if seen <= expected:
        return _ok(seen)
    return Verdict(False, seen, f"the first token came after {seen:g} ms, more than {expected:g} ms")


def total_ms(expected: float, turn: TurnResult) -> Verdict:
    seen = turn.total_ms
    if seen is None:
        return Verdict(False, None, "the turn did not end")
    if seen <= expected:
        return _ok(seen)
    return Verdict(False, seen, f"the turn took {seen:g} ms, more than {expected:g} ms")


async def judge(expected: str, turn: TurnResult, *, judge: Judge, transcript: list[dict[str, str]],
                scripted: Any = None) -> Verdict:
    """A model reads the transcript and the criterion and returns `{passed, reason}`."""
    verdict = await judge.verdict(criterion=expected, reply=turn.reply, transcript=transcript, scripted=scripted)
    seen = {"reply": turn.reply, "reason": verdict.reason}
    if verdict.passed:
        return _ok(seen)
    return Verdict(False, seen, f"the judge says no: {verdict.reason}")


_SYNC: dict[str, Callable[[Any, TurnResult], Verdict]] = {
    "contains": contains,
    "not_contains": not_contains,
    "matches": matches,
    "visited": visited,
    "not_visited": not_visited,
    "state": state,
    "assert": assert_,
    "tool_called": tool_called,
    "first_token_ms": first_token_ms,
    "total_ms": total_ms,
}


def expected_value(expect: Expectation) -> tuple[str, Any]:
    """`(kind, expected value)` of a spec expectation, as plain data."""
    kind = expect.kind()
    dumped = expect.model_dump(by_alias=True, exclude_unset=True, mode="json")
    return kind, dumped[kind]


def check(expect: Expectation, turn: TurnResult, *, judge_with: Judge | None = None,
          transcript: list[dict[str, str]] | None = None, scripted_verdict: Any = None) -> Awaitable[Verdict]:
    """Evaluate one expectation; awaitable because `judge` calls a model."""
    kind, expected = expected_value(expect)
    if kind == "judge":
        assert judge_with is not None, "a judge expectation needs a judge"
        return judge(expected, turn, judge=judge_with, transcript=transcript or [], scripted=scripted_verdict)
    return _done(_SYNC[kind](expected, turn))


async def _done(verdict: Verdict) -> Verdict:
    return verdict
