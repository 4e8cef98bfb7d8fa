"""Simulated users: the scripted user offline, a model playing the user over the OpenAI wire, `stop_when`,
`max_turns`, `each_turn` and `at_end`, fixed turns followed by simulated ones."""

from __future__ import annotations

from pathlib import Path

from factory.mockllm import MockLLMServer
from factory.testing import run_spec

SPEC = """\
spec: 1
name: shop
models:
  main: {provider: scripted}
  user: {provider: openai, model: shopper, base_url: BASE_URL}
default_model: main
state:
  item: {type: string}
  ordered: {type: boolean, default: false}
tools:
  place_order:
    description: Place the order.
    returns: {order: A-7}
nodes:
  understand: {kind: extract, prompt: Record the item the customer wants., into: [item]}
  ask: {kind: reply, prompt: Ask what they would like to order.}
  order: {kind: tool, tool: place_order}
  done: {kind: set, values: {ordered: "true"}}
  confirm: {kind: reply, prompt: "Confirm the order of {{ item }}."}
edges:
  - {from: start, to: understand}
  - {from: understand, to: order, when: state.item != null}
  - {from: understand, to: ask}
  - {from: order, to: done}
  - {from: done, to: confirm}
  - {from: ask, to: end}
  - {from: confirm, to: end}
tests:
TESTS
"""

SCRIPTED = """\
  - name: a shopper orders tea
    simulate:
      persona: Kim, terse.
      goal: Order a box of tea.
      max_turns: 5
      stop_when: state.ordered == true
    script:
      user: ["Hello.", "Tea, please.", "Thanks!", "Bye."]
      understand: [{}, {item: tea}]
      ask: ["What would you like?"]
      confirm: ["Your tea is ordered (A-7)."]
    each_turn:
      - assert: size(reply) > 0
    at_end:
      - visited: [ask, order, confirm]
      - tool_called: {name: place_order}
      - state: {ordered: true, item: tea}
      - contains: A-7
      - judge: The order was confirmed.
"""


def write(folder: Path, tests: str, *, base_url: str = "http://127.0.0.1:9/v1") -> Path:
    path = folder / "shop.yaml"
    path.write_text(SPEC.replace("TESTS\n", tests).replace("BASE_URL", base_url), encoding="utf-8")
    return path


def test_the_scripted_user_plays_until_stop_when_holds(tmp_path: Path) -> None:
    report = run_spec(write(tmp_path, SCRIPTED))
    assert report.passed, "\n".join(f.render() for f in report.failures())
    (attempt,) = report.results[0].attempts
    assert attempt.simulation is not None
    assert attempt.simulation.model_dump() == {"user": "scripted", "turns": 2, "stopped": "stop_when"}
    assert [(m.role, m.text) for m in attempt.transcript] == [
        ("user", "Hello."), ("assistant", "What would you like?"),
        ("user", "Tea, please."), ("assistant", "Your tea is ordered (A-7).")]
    assert all(t.simulated for t in attempt.turns)
    assert [[e.scope for e in t.expectations] for t in attempt.turns] == [["each_turn"], ["each_turn"]]
    assert [(e.kind, e.passed, e.position.pointer) for e in attempt.at_end] == [
        ("visited", True, "/tests/0/at_end/0"), ("tool_called", True, "/tests/0/at_end/1"),
        ("state", True, "/tests/0/at_end/2"), ("contains", True, "/tests/0/at_end/3"),
        ("judge", True, "/tests/0/at_end/4")]
    assert report.totals.expectations == 7


def test_the_user_is_done_when_its_lines_run_out_and_max_turns_caps_it(tmp_path: Path) -> None:
    short = SCRIPTED.replace("stop_when: state.ordered == true", "stop_when: state.item == 'coffee'").replace(
        'user: ["Hello.", "Tea, please.", "Thanks!", "Bye."]', 'user: ["Hello."]')
    (attempt,) = run_spec(write(tmp_path, short)).results[0].attempts
    assert attempt.simulation is not None and attempt.simulation.stopped == "user_done"
    assert attempt.simulation.turns == 1
    capped = SCRIPTED.replace("max_turns: 5", "max_turns: 1")
    report = run_spec(write(tmp_path, capped))
    (attempt,) = report.results[0].attempts
    assert attempt.simulation is not None and (attempt.simulation.stopped, attempt.simulation.turns) == (
        "max_turns", 1)
    # the goal was not reached in one turn: the at_end checks say so, each at its line
    failed = {f.expectation.kind: f for f in report.failures()}
    assert set(failed) == {"visited", "tool_called", "state", "contains"}
    assert failed["state"].expectation.position.pointer == "/tests/0/at_end/2"
    assert failed["state"].render().startswith("a shopper orders tea (attempt 1), at the end, last turn 1: 'Hello.'")


def test_offline_without_script_user_fails_and_says_what_to_add(tmp_path: Path) -> None:
    spec = write(tmp_path, SCRIPTED.replace('      user: ["Hello.", "Tea, please.", "Thanks!", "Bye."]\n', ""))
    report = run_spec(spec)
    (failure,) = report.failures()
    assert failure.expectation.kind == "simulate"
    assert str(failure.expectation.position) == f"{spec}:31:7"
    assert "add `user: [\"first message\", \"second message\", ...]` under this conversation's `script:`" in \
        failure.expectation.message
    assert report.results[0].attempts[0].turns == []


def test_fixed_turns_come_first_and_each_turn_checks_them_too(tmp_path: Path) -> None:
    fixed = "    turns:\n      - user: Hi there\n        expect: [{contains: like}]\n"
    mixed = SCRIPTED.replace("    each_turn:", fixed + "    each_turn:").replace(
        'user: ["Hello.", "Tea, please.", "Thanks!", "Bye."]', 'user: ["Tea, please."]').replace(
        "      - assert: size(reply) > 0", "      - not_contains: sorry")
    report = run_spec(write(tmp_path, mixed))
    assert report.passed, "\n".join(f.render() for f in report.failures())
    (attempt,) = report.results[0].attempts
    assert [(t.user, t.simulated) for t in attempt.turns] == [("Hi there", False), ("Tea, please.", True)]
    assert [[e.scope for e in t.expectations] for t in attempt.turns] == [["turn", "each_turn"], ["each_turn"]]


def test_each_turn_failures_name_the_turn_and_the_line(tmp_path: Path) -> None:
    spec = write(tmp_path, SCRIPTED.replace("      - assert: size(reply) > 0", "      - not_contains: What"))
    report = run_spec(spec)
    (failure,) = report.failures()
    assert (failure.turn, failure.expectation.scope, str(failure.expectation.position)) == (
        0, "each_turn", f"{spec}:41:9")
    assert failure.render().splitlines()[0] == "a shopper orders tea (attempt 1), turn 1: 'Hello.'"


MODEL_USER = """\
  - name: a model plays the shopper
    simulate:
      persona: Kim, terse.
      goal: Order a box of tea.
      model: user
      max_turns: 4
    script:
      understand: [{item: tea}]
      confirm: ["Your tea is ordered (A-7)."]
    at_end:
      - state: {ordered: true}
"""


def test_any_openai_compatible_model_can_play_the_user(tmp_path: Path) -> None:
    replies = {"queue": [{"text": "USER: \"I'd like a box of tea.\""}, {"text": "<END>"}]}
    with MockLLMServer(replies) as server:
        report = run_spec(write(tmp_path, MODEL_USER, base_url=server.base_url), model="spec")
        requests = [r.body for r in server.requests]
    assert report.passed, "\n".join(f.render() for f in report.failures())
    (attempt,) = report.results[0].attempts
    assert attempt.simulation is not None
    assert attempt.simulation.model_dump() == {"user": "user", "turns": 1, "stopped": "user_done"}
    # the label and the quotes a model may add are not part of the message
    assert attempt.transcript[0].text == "I'd like a box of tea."
    assert [r["model"] for r in requests] == ["shopper", "shopper"]
    first, second = (r["messages"][-1]["content"] for r in requests)
    assert "Your persona: Kim, terse." in first and "Your goal: Order a box of tea." in first
    assert "has not started" in first
    assert "USER (you): I'd like a box of tea.\nASSISTANT: Your tea is ordered (A-7)." in second


def test_a_failing_user_model_fails_the_conversation_without_a_crash(tmp_path: Path) -> None:
    with MockLLMServer({"default": {"fail": {"status": 400}}}) as server:
        report = run_spec(write(tmp_path, MODEL_USER, base_url=server.base_url), model="spec")
    (failure,) = report.failures()
    assert failure.expectation.kind == "simulate"
    assert failure.expectation.message.startswith("the user model 'user' failed: ")
    (attempt,) = report.results[0].attempts
    assert attempt.simulation is not None and attempt.simulation.stopped == "user_failed"
