"""Node and edge coverage: which nodes and conditional edges no conversation exercised.

An edge counts as taken when its two ends appear one after the other in a turn's path (`start`
before the first node, `end` after the last node of a turn that was not interrupted). When several
edges join the same two nodes, all of them count as taken: the path cannot tell them apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from factory.testing.records import Coverage, EdgeCoverage, SpecPosition, TurnResult

if TYPE_CHECKING:
    from factory.language.loader import LoadedSpec

__all__ = ["compute_coverage", "taken_pairs"]


def taken_pairs(turns: Iterable[TurnResult]) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for turn in turns:
        if not turn.path:
            continue
        pairs.add(("start", turn.path[0]))
        pairs.update(zip(turn.path, turn.path[1:], strict=False))
        if not turn.interrupted and turn.error is None:
            pairs.add((turn.path[-1], "end"))
    return pairs


def compute_coverage(loaded: LoadedSpec, turns: Iterable[TurnResult]) -> Coverage:
    turns = list(turns)
    nodes = list(loaded.spec.nodes)
    seen = {node for turn in turns for node in turn.path}
    pairs = taken_pairs(turns)
    edges = []
    for k, edge in enumerate(loaded.spec.edges):
        pos = loaded.source.at(("edges", k))
        edges.append(EdgeCoverage(index=k, source=edge.from_, target=edge.to, when=edge.when,
                                  taken=(edge.from_, edge.to) in pairs,
                                  position=SpecPosition(file=loaded.source.file, line=pos.line, column=pos.column,
                                                        pointer=f"/edges/{k}")))
    return Coverage(nodes=nodes, visited_nodes=[n for n in nodes if n in seen],
                    unvisited_nodes=[n for n in nodes if n not in seen], edges=edges)
