"""Node, edge and condition coverage: what the conversations exercised, and which conversation did.

Everything is read from the turns' paths (`end.path`), so it works the same for every target. A
turn moved from node `a` to node `b` when they are consecutive in its path (`start` before the
first node of a turn that did not resume an interrupt, `end` after the last node of a turn that was
neither interrupted nor failed; nodes inside a subgraph, `sub.child`, are left out). Which way a
condition went follows from how the runtime routes: the edges leaving `a` are tried in order and
the first whose `when` holds is taken. So a move from `a` to `b` means every condition before the
first edge `a -> b` was false, and that edge's condition was true. When several edges join `a` to
`b` the path cannot tell which one held: those conversations are recorded as undetermined. When
several edges join the same two nodes, all of them count as taken.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from factory.testing.records import ConditionCoverage, Coverage, EdgeCoverage, SpecPosition, TurnResult

if TYPE_CHECKING:
    from factory.language.loader import LoadedSpec
    from factory.language.models import Edge

__all__ = ["compute_coverage", "moves", "taken_pairs"]

Played = tuple[str, Sequence[TurnResult]]
"""A conversation's name and the turns of one attempt at it, in order."""


def moves(turns: Sequence[TurnResult]) -> list[tuple[str, str]]:
    """The moves between top-level nodes in one attempt's turns, in order (see the module's docstring)."""
    out: list[tuple[str, str]] = []
    resumed = False
    for turn in turns:
        path = [node for node in turn.path if "." not in node]
        if path:
            if not resumed:
                out.append(("start", path[0]))
            out += list(zip(path, path[1:], strict=False))
            if not turn.interrupted and turn.error is None:
                out.append((path[-1], "end"))
        resumed = turn.interrupted
    return out


def taken_pairs(turns: Iterable[TurnResult]) -> set[tuple[str, str]]:
    """Every move of these turns, each turn read as one conversation of its own."""
    return {move for turn in turns for move in moves([turn])}


def _outcomes(edges: list[tuple[int, Edge]], target: str) -> dict[int, str]:
    """Edge index -> `true`, `false` or `undetermined` for a move to `target` from the source of `edges`."""
    to_target = [k for k, edge in edges if edge.to == target]
    if not to_target:
        return {}
    first, last = to_target[0], to_target[-1]
    out: dict[int, str] = {}
    for k, edge in edges:
        if edge.when is None or k > last:
            continue
        if k < first:
            out[k] = "false"
        else:
            out[k] = "true" if first == last else "undetermined"
    return out


def compute_coverage(loaded: LoadedSpec, played: Iterable[Played]) -> Coverage:
    played = list(played)
    spec, source = loaded.spec, loaded.source
    by_source: dict[str, list[tuple[int, Edge]]] = {}
    for k, edge in enumerate(spec.edges):
        by_source.setdefault(edge.from_, []).append((k, edge))
    visited: dict[str, list[str]] = {}
    taken: dict[tuple[str, str], list[str]] = {}
    went: dict[int, dict[str, list[str]]] = {}
    for name, turns in played:
        for node in (n for turn in turns for n in turn.path):
            _add(visited.setdefault(node, []), name)
        for move in moves(turns):
            _add(taken.setdefault(move, []), name)
            for k, way in _outcomes(by_source.get(move[0], []), move[1]).items():
                _add(went.setdefault(k, {}).setdefault(way, []), name)

    def at(path: tuple[str | int, ...], *, key: bool = False) -> SpecPosition:
        pos = source.at(path, key=key)
        return SpecPosition(file=source.file, line=pos.line, column=pos.column,
                            pointer="".join(f"/{part}" for part in path))

    edges = []
    for k, edge in enumerate(spec.edges):
        by = taken.get((edge.from_, edge.to), [])
        condition = None
        if edge.when is not None:
            ways = went.get(k, {})
            condition = ConditionCoverage(true_by=ways.get("true", []), false_by=ways.get("false", []),
                                          undetermined_by=ways.get("undetermined", []),
                                          position=at(("edges", k, "when")))
        edges.append(EdgeCoverage(index=k, source=edge.from_, target=edge.to, when=edge.when, taken=bool(by),
                                  position=at(("edges", k)), taken_by=list(by), condition=condition))
    nodes = list(spec.nodes)
    return Coverage(nodes=nodes, visited_nodes=[n for n in nodes if n in visited],
                    unvisited_nodes=[n for n in nodes if n not in visited],
                    visited_by={n: visited[n] for n in nodes if n in visited},
                    node_positions={n: at(("nodes", n), key=True) for n in nodes}, edges=edges)


def _add(names: list[str], name: str) -> None:
    if name not in names:
        names.append(name)
