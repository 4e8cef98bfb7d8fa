"""Shape checks of the node graph: reachability, a way to `end`, exits from cycles, defaults."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from factory.language._yaml import Path
from factory.language.models import Spec

__all__ = ["GraphIssue", "check_graph"]


@dataclass(frozen=True)
class GraphIssue:
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


def _covers_every_case(whens: list[str], spec: Spec) -> bool:
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
        enum = spec.state[slot].enum if slot in spec.state else None
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


def check_graph(spec: Spec) -> list[GraphIssue]:
    """Every graph-shape problem; unknown ids are reported elsewhere and ignored here."""
    known = set(spec.nodes) | {"start", "end"}
    out: dict[str, list[int]] = defaultdict(list)
    for i, edge in enumerate(spec.edges):
        if edge.from_ in known and edge.to in known:
            out[edge.from_].append(i)
    issues: list[GraphIssue] = []
    if not out.get("start"):
        issues.append(GraphIssue(("edges",), "no edge leaves `start`", "add `- {from: start, to: <first node>}`",
                                 key=True))
    for source, indexes in out.items():
        unconditional = [i for i in indexes if spec.edges[i].when is None]
        if unconditional and unconditional[0] != indexes[-1]:
            for i in indexes[indexes.index(unconditional[0]) + 1:]:
                issues.append(GraphIssue(("edges", i), f"this edge from {source!r} is never taken: an earlier edge "
                                         "without `when` always holds", "move it before the unconditional edge"))
        if not unconditional and not _covers_every_case([spec.edges[i].when or "" for i in indexes], spec):
            last = indexes[-1]
            issues.append(GraphIssue(("edges", last, "when"),
                                     f"the conditional edges leaving {source!r} have no default",
                                     f"add `- {{from: {source}, to: <node or end>}}` after them"))
    forward: dict[str, list[str]] = {s: [spec.edges[i].to for i in idx] for s, idx in out.items()}
    backward: dict[str, list[str]] = defaultdict(list)
    for s, targets in forward.items():
        for t in targets:
            backward[t].append(s)
    reached = _walk("start", forward)
    finishing = _walk("end", backward)
    cycles: set[frozenset[str]] = set()
    for node_id in spec.nodes:
        if node_id not in reached:
            issues.append(GraphIssue(("nodes", node_id), f"nothing reaches node {node_id!r} from `start`",
                                     f"add an edge to it, e.g. `- {{from: <node>, to: {node_id}}}`, or remove it",
                                     key=True))
        elif node_id not in finishing:
            stuck = reached - finishing - {"end"}
            cycle = _cycle_through(node_id, forward, stuck)
            if cycle and frozenset(cycle) in cycles:
                continue  # the same cycle, found from another of its nodes: reported once
            if cycle:
                cycles.add(frozenset(cycle))
                issues.append(GraphIssue(("nodes", node_id),
                                         f"cycle with no exit: {' -> '.join(cycle)} never reaches `end`",
                                         "add an edge out of the cycle, e.g. "
                                         f"`- {{from: {node_id}, to: end, when: ...}}`",
                                         key=True))
            else:
                issues.append(GraphIssue(("nodes", node_id), f"`end` cannot be reached from node {node_id!r}",
                                         f"add `- {{from: {node_id}, to: end}}` or an edge to a node that ends",
                                         key=True))
    return issues
