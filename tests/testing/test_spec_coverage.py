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
