"""Checks of the `tests:` conversations: they may only name nodes, slots and tools that exist, and
their scripted replies must fit the node that will consume them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from factory.language import models as m

if TYPE_CHECKING:
    from factory.language.checks import _Checker
    from factory.language.loader import LoadedSpec

__all__ = ["check_tests"]

_SCRIPT_FIXES = {
    "reply": "write the reply text, e.g. `greet: [\"Hello! Which company are you with?\"]`",
    "agent": "write the answer text, or `{tool_calls: [{name: <tool the node offers>, args: {...}}]}`",
    "extract": "write slot values the node extracts, e.g. `extract: [{company: Acme}]`",
    "classify": "write one of the node's labels",
    "tool": "remove the entry: only reply, agent, extract and classify nodes take a script",
    "set": "remove the entry: only reply, agent, extract and classify nodes take a script",
    "interrupt": "remove the entry: the user's next message answers an interrupt",
    "subgraph": "remove the entry: script the child spec's nodes in its own tests",
    "python": "remove the entry: only reply, agent, extract and classify nodes take a script",
}


def _script_entry_problem(node: Any, entry: Any, tools: set[str]) -> str | None:
    kind = node.kind
    if kind == "reply":
        return None if isinstance(entry, str) else f"a reply node's script entry must be text, got {entry!r}"
    if kind == "agent":
        if isinstance(entry, str):
            return None
        calls = entry.get("tool_calls") if isinstance(entry, dict) and set(entry) == {"tool_calls"} else None
        if not isinstance(calls, list) or not all(isinstance(c, dict) and "name" in c for c in calls):
            return f"an agent node's script entry is text or {{tool_calls: [{{name, args}}]}}, got {entry!r}"
        unknown = [c["name"] for c in calls if c["name"] not in node.tools]
        if unknown:
            return f"the script calls tools {unknown} that the agent node does not offer (it offers {node.tools})"
        return None
    if kind == "extract":
        if not isinstance(entry, dict):
            return f"an extract node's script entry is a mapping of slot values, got {entry!r}"
        extra = sorted(set(entry) - set(node.into))
        if extra:
            return f"the script fills slots {extra} that the extract node does not write (into: {node.into})"
        return None
    if kind == "classify":
        if isinstance(entry, str) and entry in node.labels:
            return None
        return f"a classify node's script entry is one of {sorted(node.labels)}, got {entry!r}"
    return f"node kind {kind!r} does not call a model, so it takes no script"


def _nodes_and_tools(loaded: LoadedSpec, prefix: str = "") -> tuple[dict[str, Any], set[str]]:
    """Every node a test may name, sub-spec nodes as `<subgraph node>.<child node>`, and every tool."""
    nodes: dict[str, Any] = {f"{prefix}{node_id}": node for node_id, node in loaded.spec.nodes.items()}
    tools = set(loaded.spec.tools)
    for node_id, child in loaded.children.items():
        child_nodes, child_tools = _nodes_and_tools(child, f"{prefix}{node_id}.")
        nodes.update(child_nodes)
        tools |= child_tools
    return nodes, tools


def check_tests(c: _Checker) -> None:
    spec = c.spec
    names: dict[str, int] = {}
    all_nodes, tools = _nodes_and_tools(c.loaded)
    node_ids = set(all_nodes)
    judge_needed = False
    for t, case in enumerate(spec.tests):
        base = ("tests", t)
        if case.name in names:
            c.add((*base, "name"), f"two conversations are named {case.name!r}", fix="give each test a unique name")
        names[case.name] = t
        for tool in case.mocks:
            if tool not in tools:
                c.add((*base, "mocks", tool), f"mock for unknown tool {tool!r}", key=True,
                      fix=f"use one of {sorted(tools)}" if tools else "define the tool under `tools:`")
        for node_id, entries in case.script.items():
            node = all_nodes.get(node_id)
            if node is None and node_id == "judge":
                _check_judge_script(c, (*base, "script", node_id), entries)
                continue
            if node is None:
                c.add((*base, "script", node_id), f"script for unknown node {node_id!r}", key=True,
                      fix=f"use one of {sorted(node_ids)}")
                continue
            for i, entry in enumerate(entries):
                problem = _script_entry_problem(node, entry, tools)
                if problem:
                    c.add((*base, "script", node_id, i), problem, node=node_id, fix=_SCRIPT_FIXES[node.kind])
        for u, turn in enumerate(case.turns):
            for e, expect in enumerate(turn.expect):
                path = (*base, "turns", u, "expect", e)
                if len(expect.model_fields_set) != 1:
                    given = sorted(expect.model_dump(by_alias=True, exclude_unset=True))
                    c.add(path, f"an expectation has exactly one key, got {given}",
                          fix="split it into one list item per check")
                    continue
                judge_needed |= expect.judge is not None
                _check_expectation(c, path, expect, node_ids, tools)
    if judge_needed and "judge" not in spec.models and spec.default_model is None and len(spec.models) != 1:
        c.add(("tests",), "a `judge` expectation needs a model: define a `judge` alias or `default_model`",
              fix="add `judge: {provider: scripted}` under `models:`")


def _check_judge_script(c: _Checker, path: tuple[Any, ...], entries: list[Any]) -> None:
    """`script: {judge: [...]}` scripts the offline judge's verdicts (when no node is named `judge`)."""
    for i, entry in enumerate(entries):
        ok = isinstance(entry, bool) or (
            isinstance(entry, dict) and set(entry) <= {"passed", "reason"} and isinstance(entry.get("passed"), bool))
        if not ok:
            c.add((*path, i),
                  f"a scripted judge verdict is true/false or {{passed: bool, reason: text}}, got {entry!r}",
                  fix="write e.g. `judge: [{passed: false, reason: asks two questions}]`")


def _check_expectation(c: _Checker, path: tuple[Any, ...], expect: m.Expectation, node_ids: set[str],
                       tools: set[str]) -> None:
    for key in ("visited", "not_visited"):
        for i, node_id in enumerate(getattr(expect, key) or []):
            if node_id not in node_ids:
                c.add((*path, key, i), f"{key} names unknown node {node_id!r}", fix=f"use one of {sorted(node_ids)}")
    for slot in expect.state or {}:
        if slot not in c.slots:
            c.add((*path, "state", slot), f"expected state names unknown slot {slot!r}", key=True,
                  fix=f"use one of {sorted(c.slots)}" if c.slots else f"add `{slot}:` under `state:`")
    if expect.assert_ is not None:
        c.cel((*path, "assert"), expect.assert_, allowed=frozenset({"state", "reply"}))
    if expect.tool_called is not None and expect.tool_called.name not in tools:
        c.add((*path, "tool_called", "name"), f"tool_called names unknown tool {expect.tool_called.name!r}",
              fix=f"use one of {sorted(tools)}" if tools else "define the tool under `tools:`")
