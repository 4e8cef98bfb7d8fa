"""Node and edge coverage, on a spec with a deliberately dead branch."""

from __future__ import annotations

from pathlib import Path

from factory.testing import run_spec
from factory.testing.coverage import taken_pairs
from factory.testing.records import TurnResult


def test_dead_branch_is_reported(mini: Path) -> None:
    coverage = run_spec(mini).coverage
    assert coverage.unvisited_nodes == ["escalate"]
    assert coverage.visited_nodes == ["count", "route", "fetch", "help", "chat"]
    untaken = coverage.untaken_conditional_edges
    assert [(e.source, e.target, e.when, str(e.position), e.position.pointer) for e in untaken] == [
        ("route", "escalate", "state.turns > 100", f"{mini}:28:5", "/edges/2")]
    conditional = {(e.source, e.target): e.taken for e in coverage.edges if e.when}
    assert conditional == {("route", "escalate"): False, ("route", "fetch"): True}
    assert all(e.taken for e in coverage.edges if e.target != "escalate" and e.source != "escalate")


def test_only_the_selected_conversations_count(mini: Path) -> None:
    from factory.testing import Selection

    coverage = run_spec(mini, selection=Selection(pattern="small talk")).coverage
    assert coverage.unvisited_nodes == ["fetch", "help", "escalate"]
    assert [e.target for e in coverage.untaken_conditional_edges] == ["escalate", "fetch"]


def test_edges_come_from_consecutive_nodes() -> None:
    turns = [TurnResult(index=0, user="x", path=["a", "b", "c"]),
             TurnResult(index=1, user="y", path=["a", "q"], interrupted=True),
             TurnResult(index=2, user="z", path=["d"], error={"code": "x"})]
    assert taken_pairs(turns) == {("start", "a"), ("a", "b"), ("b", "c"), ("c", "end"), ("a", "q"), ("start", "d")}


def test_conditions_report_which_way_they_went_and_in_which_conversation(mini: Path) -> None:
    edges = {(e.source, e.target): e for e in run_spec(mini).coverage.edges}
    escalate, fetch = edges[("route", "escalate")].condition, edges[("route", "fetch")].condition
    assert escalate is not None and fetch is not None
    # edges are tried in order: reaching `fetch` or `chat` means `turns > 100` was false
    assert (escalate.true_by, escalate.false_by) == ([], ["help is looked up", "small talk"])
    assert (fetch.true_by, fetch.false_by) == (["help is looked up"], ["small talk"])
    assert fetch.both_ways and not escalate.both_ways
    assert str(fetch.position).endswith(":29:36") and fetch.position.pointer == "/edges/3/when"
    assert edges[("route", "fetch")].taken_by == ["help is looked up"]
    assert edges[("route", "chat")].condition is None


def test_a_turn_that_resumes_an_interrupt_is_not_routed_from_start() -> None:
    from spec_test_helpers import SPECS

    report = run_spec(SPECS / "onboarding.yaml")
    edges = {(e.source, e.target): e for e in report.coverage.edges}
    to_help = edges[("start", "help")].condition
    assert to_help is not None
    # only fresh turns route from `start`: the signed-up customer's last turn (true) and every first turn (false);
    # the other turns resume an interrupt, which is no move from `start`
    assert to_help.true_by == ["a signed-up customer gets answers instead of the form"]
    assert to_help.false_by == [r.name for r in report.results]
    malformed, simulated = "asks again for a malformed email", "a simulated customer signs up from start to finish"
    retry = edges[("retry_email", "collect_address")].condition
    assert retry is not None and (retry.true_by, retry.false_by) == ([malformed, simulated], [malformed])
    email = edges[("ask_email", "collect_address")].condition
    assert email is not None and email.false_by == [malformed, simulated]


def test_several_edges_between_the_same_nodes_leave_the_condition_undetermined() -> None:
    from spec_test_helpers import MINI_SPEC

    from factory.language.loader import load_spec_text
    from factory.testing.coverage import compute_coverage

    spec_text = MINI_SPEC.replace("tests:\nTESTS\n", "").replace(
        "  - {from: route, to: chat}\n",
        "  - {from: route, to: chat, when: 'state.topic == \"chat\"'}\n  - {from: route, to: chat}\n")
    loaded = load_spec_text(spec_text, file="dup.yaml")
    turns = [TurnResult(index=0, user="hi", path=["count", "route", "chat"])]
    coverage = compute_coverage(loaded, [("talk", turns)])
    conditions = {e.index: e.condition for e in coverage.edges if e.condition is not None}
    assert conditions[2] is not None and conditions[2].false_by == ["talk"]  # escalate: before the chat edges
    assert conditions[3] is not None and conditions[3].false_by == ["talk"]  # fetch: before the chat edges
    assert conditions[4] is not None and conditions[4].undetermined_by == ["talk"]  # which chat edge held?
