"""Checks of the `tests:` conversations: they may only name nodes, slots and tools that exist, and
their scripted replies must fit the node that will consume them (the kind's script rule in the
registry), so a typo fails at validation instead of being silently ignored by the run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from factory.language._context import Checker, one_of, suggest, tool_params
from factory.language._expressions import cel
from factory.language._kinds import ScriptContext, spec_of
from factory.language._yaml import Path
from factory.language.models import Expectation, HoldoutShare, Node, TestCase, Tool

if TYPE_CHECKING:
    from factory.language.loader import LoadedSpec

__all__ = ["SIMULATED_USER_KEY", "check_tests"]

SIMULATED_USER_KEY = "user"
"""Key of a simulated conversation's `script` whose entries are the offline simulated user's messages."""


@dataclass(frozen=True)
class _Named:
    """A node a test may name, with what judging its script needs."""

    node: Node | None
    """None: its shape failed (already reported), so its script is not judged."""
    script: ScriptContext | None


def _tools_taking(tools: dict[str, Tool], modules: Any) -> dict[str, frozenset[str] | None]:
    return {name: tool_params(tool, modules)[0] for name, tool in tools.items()}


def _scope(c: Checker) -> tuple[dict[str, _Named], set[str], set[str]]:
    """Every node a test may name (sub-spec nodes as `<subgraph node>.<child node>`), every tool, and
    the prefixes of sub-specs that could not be loaded (their node names cannot be judged)."""
    takes = _tools_taking(c.spec.tools, c.resolved.modules)
    own = ScriptContext(dict(c.spec.state), lambda name: takes.get(name))
    named = {node_id: _Named(node, own) for node_id, node in c.spec.nodes.items()}
    named.update({node_id: _Named(None, None) for node_id in c.nodes.broken})
    tools = set(c.tools.all())
    for node_id, child in c.resolved.children.items():
        _add_child(named, tools, child, f"{node_id}.")
    unknowable = {f"{node_id}." for node_id in c.resolved.unresolved if node_id in c.spec.nodes}
    unknowable |= {f"{node_id}." for node_id in c.nodes.broken}
    return named, tools, unknowable


def _add_child(named: dict[str, _Named], tools: set[str], loaded: LoadedSpec, prefix: str) -> None:
    takes = _tools_taking(loaded.spec.tools, loaded.modules)
    context = ScriptContext(dict(loaded.spec.state), lambda name: takes.get(name))
    named.update({f"{prefix}{node_id}": _Named(node, context) for node_id, node in loaded.spec.nodes.items()})
    tools |= set(loaded.spec.tools)
    for node_id, child in loaded.children.items():
        _add_child(named, tools, child, f"{prefix}{node_id}.")


def check_tests(c: Checker) -> None:
    named, tools, unknowable = _scope(c)
    names: dict[str, int] = {}
    judge_needed = False
    for t, case in zip(c.shaped.test_at, c.spec.tests, strict=True):
        base: Path = ("tests", t)
        if case.name in names:
            c.add((*base, "name"), f"two conversations are named {case.name!r}", fix="give each test a unique name")
        names[case.name] = t
        for tool in case.mocks:
            if tool not in tools and not c.tools.unknowable:
                close = suggest(tool, tools)
                c.add((*base, "mocks", tool), f"mock for unknown tool {tool!r}", key=True,
                      fix=f"did you mean {close!r}?" if close else
                      f"use one of {sorted(tools)}" if tools else "define the tool under `tools:`")
        for node_id, entries in case.script.items():
            if node_id == SIMULATED_USER_KEY and (case.simulate is not None or node_id not in named):
                _user_script(c, (*base, "script", node_id), case, entries)
            else:
                _script(c, (*base, "script", node_id), node_id, entries, named, unknowable)
        _simulation(c, base, case)
        checks = [((*base, "turns", u, "expect", e), expect) for u, turn in enumerate(case.turns)
                  for e, expect in enumerate(turn.expect)]
        checks += [((*base, key, e), expect) for key in ("each_turn", "at_end")
                   for e, expect in enumerate(getattr(case, key))]
        for path, expect in checks:
            if len(expect.model_fields_set) != 1:
                given = sorted(expect.model_dump(by_alias=True, exclude_unset=True))
                c.add(path, f"an expectation has exactly one key, got {given}",
                      fix="split it into one list item per check")
                continue
            judge_needed |= expect.judge is not None
            _expectation(c, path, expect, named, unknowable, tools)
    if judge_needed and "judge" not in c.models and c.spec.default_model is None and len(c.models.all()) != 1:
        c.add(("tests",), "a `judge` expectation needs a model: define a `judge` alias or `default_model`",
              fix="add `judge: {provider: scripted}` under `models:`")
    _holdout(c, names)


def _simulation(c: Checker, base: Path, case: TestCase) -> None:
    """A simulated user's settings; `each_turn`/`at_end` only with one; a conversation has turns or one."""
    sim = case.simulate
    if sim is None:
        if not case.turns:
            c.add(base, f"conversation {case.name!r} has no `turns` and no `simulate`",
                  fix="add `turns: [{user: ...}]`, or `simulate: {goal: ...}` for a simulated user")
        for key in ("each_turn", "at_end"):
            if getattr(case, key):
                c.add((*base, key), f"`{key}` checks a simulated conversation, and this one has no `simulate`",
                      key=True, fix="add `simulate: {persona: ..., goal: ...}`, or move the checks into the "
                                    "turns' `expect`")
        return
    path: Path = (*base, "simulate")
    if sim.stop_when is not None:
        cel(c, (*path, "stop_when"), sim.stop_when, allowed=frozenset({"state", "reply"}))
    if sim.model is not None and sim.model not in c.models:
        close = suggest(sim.model, c.models.all())
        c.add((*path, "model"), f"unknown model {sim.model!r} for the simulated user",
              fix=f"did you mean {close!r}?" if close else f"define it under `models:`{one_of(c.models.all())}")
    elif sim.model is None and c.spec.default_model is None and len(c.models.all()) != 1 \
            and not c.models.unknowable:
        c.add(path, "the simulated user needs a model: `simulate.model` or `default_model`", key=True,
              fix=f"add `model: <alias>` to `simulate`{one_of(c.models.all(), prefix=', one of ')}")


def _user_script(c: Checker, path: Path, case: TestCase, entries: list[Any]) -> None:
    """`script: {user: [...]}`: what the offline simulated user says, in order."""
    if case.simulate is None:
        c.add(path, "`script.user` is what a simulated user says, and this conversation has no `simulate`",
              key=True, fix="add `simulate: {goal: ...}`, or write the messages as `turns: [{user: ...}]`")
        return
    for i, entry in enumerate(entries):
        if not isinstance(entry, str) or not entry.strip():
            c.add((*path, i), f"a simulated user's scripted message is text, got {entry!r}",
                  fix='write e.g. `user: ["Hi, I\'m Ana from Acme.", "About $50k."]`')


def _holdout(c: Checker, names: dict[str, int]) -> None:
    """`fix.holdout` names conversations or tags that exist, and leaves the patcher some conversations."""
    holdout = c.spec.fix.holdout
    if holdout is None:
        return
    total = len(c.spec.tests)
    if isinstance(holdout, HoldoutShare):
        if total < 2:
            c.add(("fix", "holdout"), f"a held-out share needs at least two conversations, the spec has {total}",
                  key=True, fix="add conversations under `tests:`, or remove `holdout`")
        return
    tags = {tag for case in c.spec.tests for tag in case.tags}
    for i, entry in enumerate(holdout):
        if entry not in names and entry not in tags and "tests" not in c.shaped.broken:
            close = suggest(entry, [*names, *tags])
            c.add(("fix", "holdout", i), f"holdout names no conversation and no tag: {entry!r}",
                  fix=f"did you mean {close!r}?" if close else f"use a conversation's name or a tag{one_of(tags)}")
    held = [case.name for case in c.spec.tests if case.name in holdout or set(case.tags) & set(holdout)]
    if held and len(held) == total:
        c.add(("fix", "holdout"), "holdout holds out every conversation: the patcher would see none", key=True,
              fix="hold out fewer conversations (a name, a tag, or `{share: 0.3}`)")


def _is_known(node_id: str, named: dict[str, _Named], unknowable: set[str], c: Checker) -> bool:
    return node_id in named or c.nodes.unknowable or any(node_id.startswith(p) for p in unknowable)


def _script(c: Checker, path: Path, node_id: str, entries: list[Any], named: dict[str, _Named],
            unknowable: set[str]) -> None:
    found = named.get(node_id)
    if found is None and node_id == "judge":
        _judge_script(c, path, entries)
        return
    if found is None:
        if not _is_known(node_id, named, unknowable, c):
            c.add(path, f"script for unknown node {node_id!r}", key=True, fix=c.node_ref_fix(node_id, extra=named))
        return
    if found.node is None or found.script is None:
        return
    kind = spec_of(found.node)
    for i, entry in enumerate(entries):
        if kind.script is None:
            c.add((*path, i), f"node kind {kind.kind!r} does not call a model, so it takes no script", node=node_id,
                  fix=kind.script_fix)
            continue
        problem = kind.script(found.node, entry, found.script)
        if problem:
            c.add((*path, i), problem.message, node=node_id, fix=problem.fix or kind.script_fix)


def _judge_script(c: Checker, path: Path, entries: list[Any]) -> None:
    """`script: {judge: [...]}` scripts the offline judge's verdicts (when no node is named `judge`)."""
    for i, entry in enumerate(entries):
        ok = isinstance(entry, bool) or (
            isinstance(entry, dict) and set(entry) <= {"passed", "reason"} and isinstance(entry.get("passed"), bool))
        if not ok:
            c.add((*path, i), "a scripted judge verdict is true/false or {passed: bool, reason: text}, "
                              f"got {entry!r}", fix="write e.g. `judge: [{passed: false, reason: asks two questions}]`")


def _expectation(c: Checker, path: Path, expect: Expectation, named: dict[str, _Named], unknowable: set[str],
                 tools: set[str]) -> None:
    for key in ("visited", "not_visited"):
        for i, node_id in enumerate(getattr(expect, key) or []):
            if not _is_known(node_id, named, unknowable, c):
                c.add((*path, key, i), f"{key} names unknown node {node_id!r}",
                      fix=c.node_ref_fix(node_id, extra=named))
    for slot in expect.state or {}:
        if slot not in c.slots:
            close = suggest(slot, c.slots.all())
            c.add((*path, "state", slot), f"expected state names unknown slot {slot!r}", key=True,
                  fix=f"did you mean {close!r}?" if close else
                  f"use one of {sorted(c.slots.all())}" if c.slots.all() else f"add `{slot}:` under `state:`")
    if expect.assert_ is not None:
        cel(c, (*path, "assert"), expect.assert_, allowed=frozenset({"state", "reply"}))
    called = expect.tool_called
    if called is None:
        return
    if called.name not in tools and not c.tools.unknowable:
        close = suggest(called.name, tools)
        c.add((*path, "tool_called", "name"), f"tool_called names unknown tool {called.name!r}",
              fix=f"did you mean {close!r}?" if close else
              f"use one of {sorted(tools)}" if tools else "define the tool under `tools:`")
    tool = c.spec.tools.get(called.name)
    takes = c.tool_params(tool)[0] if tool is not None else None
    for arg in sorted(set(called.args or {}) - (takes if takes is not None else set(called.args or {}))):
        close = suggest(arg, takes or ())
        c.add((*path, "tool_called", "args", arg), f"tool {called.name!r} takes no argument {arg!r}, so no call "
                                                   f"can match (it takes {sorted(takes or ())})", key=True,
              fix=f"did you mean {close!r}?" if close else f"use one of {sorted(takes or ())}")
