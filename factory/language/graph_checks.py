"""The edges and the shape of the node graph: references, reachability, a way to `end`, exits
from cycles, defaults, and which of these problems one misspelt name causes.

A misspelt node id in one edge makes most of the graph unreachable; reported separately, the
consequences bury their cause. So each unknown name that has a likely meaning is tried with that
meaning: the graph problems that disappear are folded into the reference error ("... and 8 nodes it
leaves unreachable"), and the rest are listed after every cause.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from factory.language._context import Checker, suggest
from factory.language._expressions import cel
from factory.language._yaml import Path

__all__ = ["EdgeView", "GraphIssue", "check_edges", "graph_issues"]

Problem = Literal["no_start", "never_taken", "no_default", "unreachable", "no_end", "cycle"]


@dataclass(frozen=True)
class EdgeView:
    """An edge as the graph checks see it: its index in the file, its ends and condition."""

    at: int
    source: str
    target: str
    when: str | None


@dataclass(frozen=True)
class GraphIssue:
    problem: Problem
    subject: str
    """The node (or `start`) the problem is about."""
    path: Path
    message: str
    fix: str | None = None
    key: bool = False


_SPACE_OUTSIDE_STRINGS = re.compile(r"""("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|\s+""")
_SIMPLE = re.compile(r"^[A-Za-z_][\w.]*$")
_STR = r"""(?:"[^"\\\n]*"|'[^'\\\n]*')"""
_EQ = rf"(?:state\.([A-Za-z_]\w*)==({_STR})|({_STR})==state\.([A-Za-z_]\w*))"
_EQ_ONE = re.compile(_EQ)
_EQ_ANY = re.compile(rf"^{_EQ}(?:\|\|{_EQ})*$")


def _squeeze(expression: str) -> str:
    """The expression without white space (string literals kept as written)."""
    return _SPACE_OUTSIDE_STRINGS.sub(lambda found: found.group(1) or "", expression)


def _negates(a: str, b: str) -> bool:
    """Whether squeezed `a` is `!b` / `!(b)`; `!b` only when `b` is a plain name or member (`!` binds tightly)."""
    return a == f"!({b})" or (a == f"!{b}" and (_SIMPLE.match(b) is not None or _parenthesized(b)))


def _parenthesized(text: str) -> bool:
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for i, char in enumerate(_SPACE_OUTSIDE_STRINGS.sub(lambda f: '""' if f.group(1) else "", text)):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def _covers_every_case(whens: list[str], enums: Mapping[str, list[Any] | None]) -> bool:
    """Whether the conditions provably hold in every case: a literal `true`, a pair `X` / `!X`, or
    `state.s == "v"` comparisons (joined by `||` or on separate edges) naming every value of the
    string slot `s`'s `enum`."""
    squeezed = [_squeeze(w) for w in whens]
    if "true" in squeezed:
        return True
    if any(_negates(a, b) for a in squeezed for b in squeezed):
        return True
    seen: dict[str, set[str]] = defaultdict(set)
    for text in squeezed:
        if _EQ_ANY.match(text):
            for slot_a, value_a, value_b, slot_b in _EQ_ONE.findall(text):
                seen[slot_a or slot_b].add((value_a or value_b)[1:-1])
    for slot, values in seen.items():
        enum = enums.get(slot)
        if enum and all(isinstance(v, str) for v in enum) and set(enum) <= values:
            return True
    return False


def _walk(start: str, links: dict[str, list[str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in links.get(todo.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cycle_through(node: str, links: dict[str, list[str]], allowed: set[str]) -> list[str] | None:
    """A shortest cycle back to `node` that stays inside `allowed`, or None."""
    parents: dict[str, str] = {}
    todo = [node]
    while todo:
        current = todo.pop(0)
        for nxt in links.get(current, []):
            if nxt == node:
                path = [current]
                while path[-1] != node:
                    path.append(parents[path[-1]])
                return [*reversed(path), node]
            if nxt in allowed and nxt not in parents:
                parents[nxt] = current
                todo.append(nxt)
    return None


def graph_issues(node_ids: Sequence[str], edges: Sequence[EdgeView],
                 enums: Mapping[str, list[Any] | None]) -> list[GraphIssue]:
    """Every graph-shape problem; edges naming unknown ids are ignored (reported as references)."""
    known = set(node_ids) | {"start", "end"}
    out: dict[str, list[EdgeView]] = defaultdict(list)
    for edge in edges:
        if edge.source in known and edge.target in known:
            out[edge.source].append(edge)
    issues: list[GraphIssue] = []
    if not out.get("start"):
        issues.append(GraphIssue("no_start", "start", ("edges",), "no edge leaves `start`",
                                 "add `- {from: start, to: <first node>}`", key=True))
    for source, leaving in out.items():
        unconditional = [e for e in leaving if e.when is None]
        if unconditional and unconditional[0] is not leaving[-1]:
            for edge in leaving[leaving.index(unconditional[0]) + 1:]:
                issues.append(GraphIssue("never_taken", source, ("edges", edge.at),
                                         f"this edge from {source!r} is never taken: an earlier edge without "
                                         "`when` always holds", "move it before the unconditional edge"))
        if not unconditional and not _covers_every_case([e.when or "" for e in leaving], enums):
            issues.append(GraphIssue("no_default", source, ("edges", leaving[-1].at, "when"),
                                     f"the conditional edges leaving {source!r} have no default",
                                     f"add `- {{from: {source}, to: <node or end>}}` after them"))
    forward: dict[str, list[str]] = {s: [e.target for e in leaving] for s, leaving in out.items()}
    return issues + _reach_issues(node_ids, forward)


def _reach_issues(node_ids: Sequence[str], forward: dict[str, list[str]]) -> list[GraphIssue]:
    """Nodes nothing reaches, nodes from which `end` cannot be reached, and cycles with no exit."""
    backward: dict[str, list[str]] = defaultdict(list)
    for s, targets in forward.items():
        for t in targets:
            backward[t].append(s)
    reached = _walk("start", forward)
    finishing = _walk("end", backward)
    cycles: set[frozenset[str]] = set()
    issues: list[GraphIssue] = []
    for node_id in node_ids:
        path: Path = ("nodes", node_id)
        if node_id not in reached:
            issues.append(GraphIssue("unreachable", node_id, path, f"nothing reaches node {node_id!r} from `start`",
                                     f"add an edge to it, e.g. `- {{from: <node>, to: {node_id}}}`, or remove it",
                                     key=True))
        elif node_id not in finishing:
            cycle = _cycle_through(node_id, forward, reached - finishing - {"end"})
            if cycle and frozenset(cycle) in cycles:
                continue  # the same cycle, found from another of its nodes: reported once
            if cycle:
                cycles.add(frozenset(cycle))
                issues.append(GraphIssue("cycle", node_id, path,
                                         f"cycle with no exit: {' -> '.join(cycle)} never reaches `end`",
                                         f"add an edge out of the cycle, e.g. `- {{from: {node_id}, to: end, "
                                         "when: ...}}`", key=True))
            else:
                issues.append(GraphIssue("no_end", node_id, path, f"`end` cannot be reached from node {node_id!r}",
                                         f"add `- {{from: {node_id}, to: end}}` or an edge to a node that ends",
                                         key=True))
    return issues


@dataclass(frozen=True)
class _Reference:
    """An edge end naming no node, and the name it most likely meant."""

    edge: int
    """Index into the list of edges."""
    end: Literal["from", "to"]
    name: str
    meant: str | None


def _consequences(issues: list[GraphIssue]) -> str:
    """`and 8 nodes it leaves unreachable (a, b, ...)`: what the graph checks found because of it."""
    parts: list[str] = []
    for problem, words in (("unreachable", "unreachable"), ("no_end", "with no way to `end`")):
        nodes = [i.subject for i in issues if i.problem == problem]
        if nodes:
            shown = ", ".join(nodes[:6]) + (", ..." if len(nodes) > 6 else "")
            parts.append(f"{len(nodes)} node{'s' if len(nodes) > 1 else ''} it leaves {words} ({shown})")
    if any(i.problem == "no_start" for i in issues):
        parts.append("no edge leaving `start`")
    others = [i for i in issues if i.problem not in ("unreachable", "no_end", "no_start")]
    if others:
        parts.append(f"{len(others)} more graph problem{'s' if len(others) > 1 else ''} it causes")
    return ", and " + ", and ".join(parts) if parts else ""


def _fold(order: list[str], edges: list[EdgeView], enums: Mapping[str, list[Any] | None],
          references: list[_Reference], shape: list[GraphIssue]) -> dict[int, list[GraphIssue]]:
    """Reference index -> the graph problems its likely meaning removes. Meanings are applied one at a
    time, greedily (the one that removes most first), so a chain of typos (`from: Start` then
    `to: gahter`) gives each its own consequences."""
    folded: dict[int, list[GraphIssue]] = {}
    current, remaining = list(edges), shape
    pending = [r for r, ref in enumerate(references) if ref.meant is not None]
    while pending and remaining:
        best: tuple[int, list[EdgeView], list[GraphIssue]] | None = None
        for r in pending:
            ref, trial = references[r], list(current)
            edge = trial[ref.edge]
            meant = ref.meant or ""
            trial[ref.edge] = replace(edge, source=meant) if ref.end == "from" else replace(edge, target=meant)
            after = graph_issues(order, trial, enums)
            gone = [i for i in remaining if i not in after]
            if best is None or len(gone) > len(best[2]):
                best = (r, trial, gone)
        assert best is not None
        r, current, gone = best
        folded[r] = gone
        remaining = [i for i in remaining if i not in gone]
        pending.remove(r)
    return folded


def check_edges(c: Checker) -> None:
    """Edge references (did-you-mean for node ids), conditions, then the graph's shape, with the graph
    problems an unknown name causes folded into that name's error."""
    edges = [EdgeView(at, e.from_, e.to, e.when) for at, e in zip(c.shaped.edge_at, c.spec.edges, strict=True)]
    references: list[_Reference] = []
    for i, edge in enumerate(edges):
        for end, name, special in (("from", edge.source, "start"), ("to", edge.target, "end")):
            if name != special and name not in c.nodes:
                meant = suggest(name, [*c.nodes.all(), special])
                references.append(_Reference(i, "from" if end == "from" else "to", name, meant))
        if edge.when is not None:
            cel(c, ("edges", edge.at, "when"), edge.when)
    shape: list[GraphIssue] = []
    folded: dict[int, list[GraphIssue]] = {}
    if c.shaped.edges_complete() and not c.nodes.unknowable:
        order = [n for n in c.shaped.node_order if n in c.nodes] or sorted(c.nodes.all())
        enums = {name: slot.enum for name, slot in c.spec.state.items()}
        shape = graph_issues(order, edges, enums)
        folded = _fold(order, edges, enums, references, shape)
    for r, ref in enumerate(references):
        at = edges[ref.edge].at
        word = "from" if ref.end == "from" else "to"
        fix = f"did you mean {ref.meant!r}?" if ref.meant else \
            f"use `{'start' if ref.end == 'from' else 'end'}` or one of {sorted(c.nodes.all())}"
        c.add(("edges", at, ref.end), f"edge {word} unknown node {ref.name!r}{_consequences(folded.get(r, []))}",
              fix=fix)
    consumed = [i for issues in folded.values() for i in issues]
    for issue in shape:
        if issue not in consumed:
            c.add(issue.path, issue.message, fix=issue.fix, key=issue.key, rank=1)
