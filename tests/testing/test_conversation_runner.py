"""The runner: conversations against the in-process agent, failure records, repeat and min_pass_rate."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from spec_test_helpers import write_mini

from factory.client import InProcessClient
from factory.language.loader import load_spec
from factory.testing import RunReport, Selection, run_spec
from factory.testing.judge import JudgeVerdict
from factory.testing.runner import case_passes, run_tests, select_tests

FAILING = """\
  - name: wrong expectations
    script:
      route: [help, chat]
      help: ["Your gold account is fine."]
      chat: ["Anything else about your account?"]
    turns:
      - user: Help me
        expect:
          - contains: silver
          - visited: [chat]
          - state: {info: {tier: silver}}
      - user: And again?
        expect:
          - contains: account
"""


def test_passing_spec_gives_a_passing_report(mini: Path) -> None:
    report = run_spec(mini)
    assert report.passed
    assert [r.name for r in report.results] == ["help is looked up", "small talk"]
    assert report.totals.model_dump() == {"conversations": 2, "passed": 2, "failed": 0, "attempts": 2,
                                          "attempts_passed": 2, "turns": 2, "expectations": 6,
                                          "expectations_failed": 0}
    turn = report.results[0].attempts[0].turns[0]
    assert turn.path == ["count", "route", "fetch", "help"]
    assert turn.reply == "Your gold account is fine."
    assert [(t.name, t.result) for t in turn.tools] == [("lookup", {"tier": "gold", "tags": ["a", "b"]})]
    assert turn.first_token_ms is not None and turn.total_ms is not None
    assert turn.first_token_ms <= turn.total_ms
    assert report.model == "scripted" and report.target == "inprocess (model scripted)"


def test_failure_records_carry_the_spec_position_and_context(tmp_path: Path) -> None:
    spec = write_mini(tmp_path, FAILING)
    report = run_spec(spec)
    assert not report.passed
    failures = report.failures()
    assert [(f.turn, f.expectation.kind, str(f.expectation.position), f.expectation.position.pointer)
            for f in failures] == [
        (0, "contains", f"{spec}:44:13", "/tests/0/turns/0/expect/0"),
        (0, "visited", f"{spec}:45:13", "/tests/0/turns/0/expect/1"),
        (0, "state", f"{spec}:46:13", "/tests/0/turns/0/expect/2"),
    ]
    first = failures[0]
    assert first.conversation == "wrong expectations" and first.attempt == 1
    assert [m.model_dump() for m in first.transcript] == [
        {"role": "user", "text": "Help me"}, {"role": "assistant", "text": "Your gold account is fine."}]
    assert first.path == ["count", "route", "fetch", "help"]
    assert first.state["info"] == {"tier": "gold", "tags": ["a", "b"]}
    assert first.render() == (
        "wrong expectations (attempt 1), turn 1: 'Help me'\n"
        f"  {spec}:44:13: contains: silver\n"
        "  failed: the reply does not contain 'silver'\n"
        "  reply: Your gold account is fine.\n"
        "  path: count > route > fetch > help\n"
        "  tools: lookup({}) -> {'tier': 'gold', 'tags': ['a', 'b']}\n"
        "  state: {'turns': 1, 'topic': 'help', 'info': {'tier': 'gold', 'tags': ['a', 'b']}}")
    # the second turn still ran (expectation failures do not stop a conversation)
    assert len(report.results[0].attempts[0].turns) == 2


def test_report_round_trips_through_json(tmp_path: Path) -> None:
    report = run_spec(write_mini(tmp_path, FAILING))
    again = RunReport.model_validate_json(report.model_dump_json())
    assert again == report
    assert again.failures()[0].render() == report.failures()[0].render()


def test_a_turn_that_errors_fails_and_stops_the_conversation(tmp_path: Path) -> None:
    broken = """\
  - name: the set expression fails
    script: {route: [chat], chat: ["hi"]}
    turns:
      - user: one
        expect: [{contains: hi}]
      - user: two
"""
    spec = tmp_path / "broken.yaml"
    write_mini(tmp_path, broken, name="broken.yaml")
    text = spec.read_text().replace('"state.turns + 1"', '"state.turns / 0"')
    spec.write_text(text)
    report = run_spec(spec)
    (attempt,) = report.results[0].attempts
    assert len(attempt.turns) == 1
    (failure,) = attempt.failures
    assert failure.expectation.kind == "turn"
    assert failure.expectation.message.startswith("the turn failed: ")
    assert failure.error is not None and str(failure.expectation.position) == f"{spec}:39:15"


@pytest.mark.parametrize(("passed", "attempts", "rate", "verdict"), [
    (3, 3, 1.0, True), (2, 3, 1.0, False), (2, 3, 0.66, True), (2, 3, 0.67, False), (7, 10, 0.7, True),
    (0, 4, 0.0, True), (1, 2, 0.5, True), (0, 0, 0.0, False),
])
def test_pass_rate_arithmetic(passed: int, attempts: int, rate: float, verdict: bool) -> None:
    assert case_passes(passed, attempts, rate) is verdict


class AlternatingJudge:
    """A judge model double: pass, fail, pass, fail..."""

    def __init__(self) -> None:
        self.calls = 0

    async def verdict(self, *, criterion: str, reply: str, transcript: list[dict[str, str]],
                      scripted: Any = None) -> JudgeVerdict:
        self.calls += 1
        return JudgeVerdict(self.calls % 2 == 1, f"call {self.calls}")


@pytest.mark.parametrize(("min_pass_rate", "passed"), [(0.5, True), (0.75, False)])
def test_repeat_and_min_pass_rate(tmp_path: Path, min_pass_rate: float, passed: bool) -> None:
    case = f"""\
  - name: judged
    repeat: 4
    min_pass_rate: {min_pass_rate}
    script: {{route: [chat], chat: ["Nice weather!"]}}
    turns:
      - user: Hi
        expect: [{{judge: friendly}}]
"""
    loaded = load_spec(write_mini(tmp_path, case))
    from factory.compiler import compile_plan

    plan = compile_plan(loaded)

    async def go() -> RunReport:
        async with InProcessClient(plan, base_dir=loaded.folder, model="scripted") as target:
            return await run_tests(loaded, plan, target=target, judge=AlternatingJudge(), jobs=1)

    (result,) = asyncio.run(go()).results
    assert (len(result.attempts), result.passed_attempts, result.pass_rate) == (4, 2, 0.5)
    assert [a.attempt for a in result.attempts] == [1, 2, 3, 4]
    assert result.passed is passed


def test_repeat_override_and_concurrency(mini: Path) -> None:
    report = run_spec(mini, repeat=3, jobs=4)
    assert [len(r.attempts) for r in report.results] == [3, 3]
    assert report.passed and report.totals.attempts == 6
    threads = {a.thread_id for r in report.results for a in r.attempts}
    assert len(threads) == 6


def test_scripted_judge_verdicts_come_from_the_script(tmp_path: Path) -> None:
    loaded = load_spec(write_mini(tmp_path))
    loaded.spec.tests[1].script["judge"] = [{"passed": False, "reason": "too chatty"}]
    report = run_spec(loaded)
    (failure,) = report.failures()
    assert failure.expectation.kind == "judge"
    assert failure.expectation.message == "the judge says no: too chatty"
    assert failure.seen == {"reply": "Nice weather!", "reason": "too chatty"}


@pytest.mark.parametrize(("pattern", "tags", "names"), [
    (None, (), ["help is looked up", "small talk"]),
    ("TALK", (), ["small talk"]),
    ("help*", (), ["help is looked up"]),
    ("*talk", (), ["small talk"]),
    (None, ("help",), ["help is looked up"]),
    ("talk", ("help",), []),
])
def test_selection(mini: Path, pattern: str | None, tags: tuple[str, ...], names: list[str]) -> None:
    loaded = load_spec(mini)
    assert [c.name for _, c in select_tests(loaded, Selection(pattern=pattern, tags=tags))] == names
