"""Each expectation kind, passing and failing on purpose, with the exact failure text."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from factory.language.models import Expectation
from factory.testing import expectations as ex
from factory.testing.judge import ScriptedJudge
from factory.testing.records import ToolCall, TurnResult

PATH = "count > understand > qualify > ask_budget"


def turn(**changes: Any) -> TurnResult:
    base: dict[str, Any] = {
        "index": 0, "user": "Acme. Churn.", "reply": "What budget have you set aside?",
        "path": ["count", "understand", "qualify", "ask_budget"],
        "tools": [ToolCall(name="company_lookup", args={"company": "Acme", "region": "eu"}, result={"tier": "gold"})],
        "state": {"turns": 1, "company": "Acme", "info": {"tier": "gold", "size": 2}, "tags": ["a", "b"],
                  "booked": False},
        "first_token_ms": 120.5, "total_ms": 900.0,
    }
    base.update(changes)
    return TurnResult(**base)


CASES = [
    ("contains", "budget", None),
    ("contains", "price", "the reply does not contain 'price'"),
    ("contains", "Budget", "the reply does not contain 'Budget'"),
    ("not_contains", "price", None),
    ("not_contains", "budget", "the reply contains 'budget'"),
    ("matches", "(?i)BUDGET", None),
    ("matches", "^budget", "the reply does not match '^budget'"),
    ("visited", ["count", "ask_budget"], None),
    ("visited", ["qualify", "understand"], f"node 'understand' was not visited after 'qualify'; path: {PATH}"),
    ("visited", ["book"], f"node 'book' was not visited; path: {PATH}"),
    ("not_visited", ["book", "lookup"], None),
    ("not_visited", ["lookup", "qualify"], f"node 'qualify' was visited; path: {PATH}"),
    ("state", {"company": "Acme", "info": {"tier": "gold"}}, None),
    ("state", {"info": {"tier": "silver"}}, "state.info.tier is 'gold', expected 'silver'"),
    ("state", {"tags": ["a"]}, "state.tags is ['a', 'b'], expected ['a']"),
    ("state", {"stage": "budget"}, "state.stage is missing, expected 'budget'"),
    ("state", {"booked": 0}, "state.booked is False, expected 0"),
    ("state", {"company": {"name": "Acme"}}, "state.company is 'Acme', expected a mapping containing {'name': 'Acme'}"),
    ("assert", "state.turns == 1 && size(reply) < 400", None),
    ("assert", "state.turns == 2", "the assertion is false: state.turns == 2"),
    ("assert", "state.turns + 1", "the assertion gave 2, not a boolean: state.turns + 1"),
    ("tool_called", {"name": "company_lookup", "args": {"company": "Acme"}}, None),
    ("tool_called", {"name": "company_lookup"}, None),
    ("tool_called", {"name": "book_meeting"}, "tool 'book_meeting' was not called; tools called: company_lookup"),
    ("tool_called", {"name": "company_lookup", "args": {"company": "Globex"}},
     "tool 'company_lookup' was called, but not with {'company': 'Globex'}: args.company is 'Acme', expected 'Globex'"),
    ("first_token_ms", 1000, None),
    ("first_token_ms", 100, "the first token came after 120.5 ms, more than 100 ms"),
    ("total_ms", 900, None),
    ("total_ms", 500, "the turn took 900 ms, more than 500 ms"),
]


def _check(kind: str, expected: Any, seen: TurnResult, **kwargs: Any) -> ex.Verdict:
    expectation = Expectation.model_validate({kind: expected})
    return asyncio.run(_await(ex.check(expectation, seen, **kwargs)))


async def _await(awaitable: Any) -> ex.Verdict:
    return await awaitable


@pytest.mark.parametrize(("kind", "expected", "message"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_expectation_kind(kind: str, expected: Any, message: str | None) -> None:
    verdict = _check(kind, expected, turn())
    assert verdict.passed is (message is None)
    assert verdict.message == (message or "")


def test_assert_that_cannot_be_evaluated_names_the_problem() -> None:
    verdict = _check("assert", "state.nope == 1", turn())
    assert not verdict.passed
    assert verdict.message.startswith("the assertion could not be evaluated: cannot evaluate 'state.nope == 1'")
    assert verdict.seen == {"state": turn().state, "reply": turn().reply}


def test_timings_without_a_token_or_an_end() -> None:
    silent = turn(first_token_ms=None, total_ms=None)
    assert _check("first_token_ms", 1000, silent).message == "no token was streamed"
    assert _check("total_ms", 1000, silent).message == "the turn did not end"


def test_tool_called_matches_any_call_of_that_name() -> None:
    calls = [ToolCall(name="lookup", args={"company": "A"}), ToolCall(name="lookup", args={"company": "B"})]
    assert _check("tool_called", {"name": "lookup", "args": {"company": "B"}}, turn(tools=calls)).passed


@pytest.mark.parametrize(("reply", "scripted", "passed", "message"), [
    ("What budget?", None, True, ""),
    ("", None, False, "the judge says no: scripted judge: the reply is empty"),
    ("What budget?", {"passed": False, "reason": "it asks two questions"}, False,
     "the judge says no: it asks two questions"),
    ("", {"passed": True, "reason": "fine"}, True, ""),
    ("What budget?", False, False, "the judge says no: scripted verdict: failed"),
])
def test_judge_offline(reply: str, scripted: Any, passed: bool, message: str) -> None:
    verdict = _check("judge", "asks about budget", turn(reply=reply), judge_with=ScriptedJudge(),
                     scripted_verdict=scripted, transcript=[])
    assert (verdict.passed, verdict.message) == (passed, message)


def test_subset_mismatch_is_exact_about_booleans_and_lists() -> None:
    assert ex.subset_mismatch({"a": True}, {"a": 1}, "state") == "state.a is 1, expected True"
    assert ex.subset_mismatch({"a": 1}, {"a": 1.0, "b": 2}, "state") is None
    assert ex.subset_mismatch([1, {"x": 1}], [1, {"x": 1, "y": 2}], "v") == \
        "v is [1, {'x': 1, 'y': 2}], expected [1, {'x': 1}]"
