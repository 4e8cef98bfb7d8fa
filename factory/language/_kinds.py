"""The registry of node kinds: for each kind, its model, its checks, what a test's `script` entry
for it looks like, its shape in `factory graph`, and its typed plan.

Adding a node kind is one entry here (plus its pydantic model in `models.py` and its runtime module
in `graphs/nodes/`); `kind_spec` is exhaustive over `graphs.plan.NodeKind`, so a kind the runtime
knows and the language does not is a type error, and a test compares the two sets.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, assert_never

from factory.language._context import Checker, Scope, is_prompt_name, suggest
from factory.language._expressions import cel, template
from factory.language._shape import Names
from factory.language._yaml import Path
from factory.language.models import (
    AgentNode,
    ClassifyNode,
    ExtractNode,
    History,
    InterruptNode,
    Node,
    PythonNode,
    ReplyNode,
    SetNode,
    Slot,
    SubgraphNode,
    ToolNode,
)
from graphs.plan import (
    NODE_KINDS,
    AgentNodePlan,
    ClassifyNodePlan,
    ExtractNodePlan,
    HistoryPlan,
    InterruptNodePlan,
    NodeKind,
    NodePlan,
    Plan,
    PythonNodePlan,
    ReplyNodePlan,
    SetNodePlan,
    SubgraphNodePlan,
    ToolNodePlan,
    parse_slot_type,
)

__all__ = ["KINDS", "NodeKindSpec", "PlanContext", "ScriptContext", "history_plan", "kind_spec", "spec_of"]

N = TypeVar("N", bound=Node)
LLMNode = ReplyNode | AgentNode | ExtractNode | ClassifyNode


@dataclass(frozen=True)
class PlanContext:
    """What turning a node into its plan needs from the compiler."""

    model: Callable[[str | None], str]
    """A node's model alias (its own, else the default) -> the alias."""
    prompt: Callable[[str], str]
    """A node's `prompt` -> the template text."""
    child: Callable[[str], Plan]
    """A subgraph node id -> the plan of its spec."""


@dataclass(frozen=True)
class ScriptContext:
    """What judging a scripted reply needs: the slots and tools of the spec that owns the node."""

    slots: dict[str, Slot]
    tool_params: Callable[[str], frozenset[str] | None]
    """Tool name -> the argument names it takes (None: any, or unknown)."""


@dataclass(frozen=True)
class ScriptProblem:
    """What is wrong with one scripted reply, and (when it says more than the kind's) how to fix it."""

    message: str
    fix: str | None = None


ScriptRule = Callable[[N, Any, ScriptContext], ScriptProblem | None]


@dataclass(frozen=True)
class NodeKindSpec(Generic[N]):
    kind: NodeKind
    model: type[N]
    check: Callable[[Checker, Path, N], None]
    """The node's cross-reference checks."""
    plan: Callable[[PlanContext, str, N], NodePlan]
    shape: tuple[str, str]
    """Mermaid brackets around the node's label in `factory graph`."""
    script: ScriptRule[N] | None
    """The problem with one scripted reply for the node, or None; no rule: it takes no script."""
    script_fix: str
    """How to write a script entry for it."""
    user_facing: bool = False
    """Its words reach the user, so it streams (the streaming rule)."""


# ---------------------------------------------------------------------------------- shared


def history_plan(history: History) -> HistoryPlan:
    plan: HistoryPlan = {}
    if history.last is not None:
        plan["last"] = history.last
    if history.max_tokens is not None:
        plan["max_tokens"] = history.max_tokens
    if history.summarize_after is not None:
        plan["summarize_after"] = history.summarize_after
    if history.model is not None:
        plan["model"] = history.model
    return plan


def _check_llm(c: Checker, path: Path, node: LLMNode) -> None:
    alias = c.model_ref(path, node.model, what=f"{node.kind} node")
    _prompt(c, (*path, "prompt"), node.prompt)
    if spec_of(node).user_facing and alias and not c.spec.models[alias].streaming:
        c.add((*path, "model") if node.model else path, key=not node.model,
              message=f"model {alias!r} has `streaming: false` but {node.kind} nodes speak to the user",
              fix=f"set `streaming: true` on models.{alias}, or use another model")
    if node.history is not None:
        c.history((*path, "history"), node.history)


def _prompt(c: Checker, path: Path, prompt: str) -> None:
    """A one-word prompt names a `prompts:` entry; anything else is the template itself."""
    if not is_prompt_name(prompt):
        template(c, path, prompt)
    elif prompt not in c.prompts:
        close = suggest(prompt, c.prompts.all())
        hint = f"did you mean {close!r}? Otherwise add" if close else "add"
        c.add(path, f"unknown prompt {prompt!r} (a one-word prompt is read as the name of a `prompts:` entry)",
              fix=f"{hint} `{prompt}: <text>` under `prompts:`, or write the prompt as a sentence "
                  f"(more words or punctuation, e.g. `{prompt}.`)")


def _check_stream(c: Checker, path: Path, node: ReplyNode | AgentNode | InterruptNode) -> None:
    if not node.stream:
        c.add((*path, "stream"), f"{node.kind} node turns streaming off; its words reach the user",
              fix="remove `stream: false` (every user-facing node streams)")


# ---------------------------------------------------------------------------------- the kinds


def _check_reply(c: Checker, path: Path, node: ReplyNode) -> None:
    _check_llm(c, path, node)
    _check_stream(c, path, node)


def _plan_reply(ctx: PlanContext, node_id: str, node: ReplyNode) -> ReplyNodePlan:
    plan: ReplyNodePlan = {"kind": "reply", "description": node.description, "model": ctx.model(node.model),
                           "prompt": ctx.prompt(node.prompt)}
    if node.history is not None:
        plan["history"] = history_plan(node.history)
    return plan


def _script_reply(node: ReplyNode, entry: Any, ctx: ScriptContext) -> ScriptProblem | None:
    if isinstance(entry, str):
        return None
    return ScriptProblem(f"a reply node's script entry must be text, got {entry!r}")


def _check_agent(c: Checker, path: Path, node: AgentNode) -> None:
    _check_llm(c, path, node)
    _check_stream(c, path, node)
    for i, tool in enumerate(node.tools):
        c.tool_ref((*path, "tools", i), tool)


def _plan_agent(ctx: PlanContext, node_id: str, node: AgentNode) -> AgentNodePlan:
    plan: AgentNodePlan = {"kind": "agent", "description": node.description, "model": ctx.model(node.model),
                           "prompt": ctx.prompt(node.prompt), "tools": list(node.tools), "max_steps": node.max_steps}
    if node.history is not None:
        plan["history"] = history_plan(node.history)
    return plan


def _script_agent(node: AgentNode, entry: Any, ctx: ScriptContext) -> ScriptProblem | None:
    if isinstance(entry, str):
        return None
    calls = entry.get("tool_calls") if isinstance(entry, dict) and set(entry) == {"tool_calls"} else None
    if not isinstance(calls, list) or not all(isinstance(call, dict) and "name" in call for call in calls):
        return ScriptProblem("an agent node's script entry is text or {tool_calls: [{name, args}]}, "
                             f"got {entry!r}")
    unknown = [call["name"] for call in calls if call["name"] not in node.tools]
    if unknown:
        return ScriptProblem(f"the script calls tools {unknown} that the agent node does not offer "
                             f"(it offers {node.tools})")
    for call in calls:
        args, takes = call.get("args") or {}, ctx.tool_params(call["name"])
        extra = sorted(set(args) - takes) if isinstance(args, dict) and takes is not None else []
        if extra:
            close = suggest(extra[0], takes or ())
            return ScriptProblem(f"the script calls tool {call['name']!r} with arguments {extra} it does not take "
                                 f"(it takes {sorted(takes or ())})",
                                 fix=f"did you mean {close!r}?" if close else f"use {sorted(takes or ())}")
    return None


def _check_extract(c: Checker, path: Path, node: ExtractNode) -> None:
    _check_llm(c, path, node)
    for i, slot in enumerate(node.into):
        c.slot_ref((*path, "into", i), slot)


def _plan_extract(ctx: PlanContext, node_id: str, node: ExtractNode) -> ExtractNodePlan:
    plan: ExtractNodePlan = {"kind": "extract", "description": node.description, "model": ctx.model(node.model),
                             "prompt": ctx.prompt(node.prompt), "into": list(node.into)}
    if node.history is not None:
        plan["history"] = history_plan(node.history)
    return plan


_KIND_WORDS = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
               "object": "a mapping"}
_EXAMPLE_VALUES: dict[str, Any] = {"string": "text", "integer": 3, "number": 2.5, "boolean": True, "object": {}}


def extracted_value_problem(slot: Slot, value: Any) -> str | None:
    """Why the runtime would drop `value` for `slot` (its `extract` keeps only fitting values), or None."""
    kind = parse_slot_type(slot.type)
    items = (value if isinstance(value, list) else [value]) if kind.is_list else [value]
    for item in items:
        ok = {"string": isinstance(item, str), "boolean": isinstance(item, bool),
              "integer": isinstance(item, int) or (isinstance(item, float) and item.is_integer()),
              "number": isinstance(item, int | float), "object": isinstance(item, dict)}[kind.item]
        if not ok or (kind.item != "boolean" and isinstance(item, bool)):
            return f"is not {_KIND_WORDS[kind.item]}" + (" (as items of the list)" if kind.is_list else "")
        if slot.enum is not None and item not in slot.enum:
            return f"is not in the slot's enum {slot.enum}"
    return None


def _script_extract(node: ExtractNode, entry: Any, ctx: ScriptContext) -> ScriptProblem | None:
    if not isinstance(entry, dict):
        return ScriptProblem(f"an extract node's script entry is a mapping of slot values, got {entry!r}")
    extra = sorted(set(entry) - set(node.into))
    if extra:
        return ScriptProblem(f"the script fills slots {extra} that the extract node does not write "
                             f"(into: {node.into})")
    for name, value in entry.items():
        slot = ctx.slots.get(name)
        problem = extracted_value_problem(slot, value) if slot is not None and value is not None else None
        if slot is not None and problem:
            example = slot.enum[0] if slot.enum else _EXAMPLE_VALUES[parse_slot_type(slot.type).item]
            return ScriptProblem(f"the script gives slot {name!r} ({slot.type}) the value {value!r}, which "
                                 f"{problem}: the run would drop it",
                                 fix=f"write {_KIND_WORDS[parse_slot_type(slot.type).item]}, e.g. "
                                     f"`{name}: {json.dumps(example)}`")
    return None


def _check_classify(c: Checker, path: Path, node: ClassifyNode) -> None:
    _check_llm(c, path, node)
    c.slot_ref((*path, "into"), node.into)
    slot = c.spec.state.get(node.into)
    for label in node.labels:
        if slot is not None and slot.enum is not None and label not in slot.enum:
            c.add((*path, "labels", label), f"label {label!r} is not in slot {node.into!r}'s enum {slot.enum}",
                  key=True, fix=f"add {label!r} to state.{node.into}.enum")


def _plan_classify(ctx: PlanContext, node_id: str, node: ClassifyNode) -> ClassifyNodePlan:
    plan: ClassifyNodePlan = {"kind": "classify", "description": node.description, "model": ctx.model(node.model),
                              "prompt": ctx.prompt(node.prompt), "labels": dict(node.labels), "into": node.into}
    if node.history is not None:
        plan["history"] = history_plan(node.history)
    return plan


def _script_classify(node: ClassifyNode, entry: Any, ctx: ScriptContext) -> ScriptProblem | None:
    if isinstance(entry, str) and entry in node.labels:
        return None
    return ScriptProblem(f"a classify node's script entry is one of {sorted(node.labels)}, got {entry!r}")


def _check_tool(c: Checker, path: Path, node: ToolNode) -> None:
    c.tool_ref((*path, "tool"), node.tool)
    for arg, expr in node.args.items():
        cel(c, (*path, "args", arg), expr)
    if node.into:
        c.slot_ref((*path, "into"), node.into)
    tool = c.spec.tools.get(node.tool)
    takes, required = c.tool_params(tool) if tool is not None else (None, ())
    for arg in node.args:
        if takes is not None and arg not in takes:
            close = suggest(arg, takes)
            c.add((*path, "args", arg), f"tool {node.tool!r} takes no argument {arg!r} (it takes {sorted(takes)})",
                  key=True, fix=f"did you mean {close!r}?" if close else f"use one of {sorted(takes)}")
    meant = {suggest(arg, takes) for arg in node.args if takes is not None and arg not in takes}
    missing = [name for name in required if name not in node.args and name not in meant]
    if missing:
        c.add((*path, "args") if node.args else (*path, "tool"), key=bool(node.args),
              message=f"tool {node.tool!r} needs the arguments {missing}, which the node does not pass",
              fix=f"add them under `args:`, e.g. `args: {{{missing[0]}: state.{missing[0]}}}`")


def _plan_tool(ctx: PlanContext, node_id: str, node: ToolNode) -> ToolNodePlan:
    return {"kind": "tool", "description": node.description, "tool": node.tool, "args": dict(node.args),
            "into": node.into}


def _check_set(c: Checker, path: Path, node: SetNode) -> None:
    for slot, expr in node.values.items():
        c.slot_ref((*path, "values", slot), slot, key=True)
        cel(c, (*path, "values", slot), expr)


def _plan_set(ctx: PlanContext, node_id: str, node: SetNode) -> SetNodePlan:
    return {"kind": "set", "description": node.description, "values": dict(node.values)}


def _check_interrupt(c: Checker, path: Path, node: InterruptNode) -> None:
    template(c, (*path, "message"), node.message)
    c.slot_ref((*path, "into"), node.into)
    _check_stream(c, path, node)


def _plan_interrupt(ctx: PlanContext, node_id: str, node: InterruptNode) -> InterruptNodePlan:
    return {"kind": "interrupt", "description": node.description, "message": node.message, "into": node.into}


def _check_subgraph(c: Checker, path: Path, node: SubgraphNode) -> None:
    node_id = str(path[1])
    child = c.resolved.children.get(node_id)
    for slot, expr in node.input.items():
        if child is not None and slot not in child.spec.state:
            c.add((*path, "input", slot), f"the subgraph has no slot {slot!r}", key=True,
                  fix=f"use one of {sorted(child.spec.state)}")
        cel(c, (*path, "input", slot), expr)
    for slot, expr in node.output.items():
        c.slot_ref((*path, "output", slot), slot, key=True)
        if child is not None:
            scope = Scope(Names(frozenset(child.spec.state)), dict(child.spec.state), what=" (of the subgraph)")
            cel(c, (*path, "output", slot), expr, scope=scope)


def _plan_subgraph(ctx: PlanContext, node_id: str, node: SubgraphNode) -> SubgraphNodePlan:
    return {"kind": "subgraph", "description": node.description, "plan": ctx.child(node_id),
            "input": dict(node.input), "output": dict(node.output)}


def _check_python(c: Checker, path: Path, node: PythonNode) -> None:
    c.function_ref((*path, "function"), node.function)


def _plan_python(ctx: PlanContext, node_id: str, node: PythonNode) -> PythonNodePlan:
    return {"kind": "python", "description": node.description, "function": node.function}


_NO_SCRIPT = "remove the entry: only reply, agent, extract and classify nodes take a script"

_REPLY = NodeKindSpec("reply", ReplyNode, _check_reply, _plan_reply, ('(["', '"])'), _script_reply,
                      "write the reply text, e.g. `greet: [\"Hello! Which company are you with?\"]`",
                      user_facing=True)
_AGENT = NodeKindSpec("agent", AgentNode, _check_agent, _plan_agent, ('[["', '"]]'), _script_agent,
                      "write the answer text, or `{tool_calls: [{name: <tool the node offers>, args: {...}}]}`",
                      user_facing=True)
_EXTRACT = NodeKindSpec("extract", ExtractNode, _check_extract, _plan_extract, ('[/"', '"/]'), _script_extract,
                        "write slot values of the slots' types, e.g. `extract: [{company: Acme}]`")
_CLASSIFY = NodeKindSpec("classify", ClassifyNode, _check_classify, _plan_classify, ('{"', '"}'), _script_classify,
                         "write one of the node's labels")
_TOOL = NodeKindSpec("tool", ToolNode, _check_tool, _plan_tool, ('["', '"]'), None, _NO_SCRIPT)
_SET = NodeKindSpec("set", SetNode, _check_set, _plan_set, ('["', '"]'), None, _NO_SCRIPT)
_INTERRUPT = NodeKindSpec("interrupt", InterruptNode, _check_interrupt, _plan_interrupt, ('{{"', '"}}'), None,
                          "remove the entry: the user's next message answers an interrupt", user_facing=True)
_SUBGRAPH = NodeKindSpec("subgraph", SubgraphNode, _check_subgraph, _plan_subgraph, ('[["', '"]]'), None,
                         "remove the entry: script the child's nodes as `<this node>.<child node>`")
_PYTHON = NodeKindSpec("python", PythonNode, _check_python, _plan_python, ('["', '"]'), None, _NO_SCRIPT)


def kind_spec(kind: NodeKind) -> NodeKindSpec[Any]:
    """The registry entry of `kind` (exhaustive: a new `NodeKind` without an entry is a type error)."""
    if kind == "reply":
        return _REPLY
    if kind == "agent":
        return _AGENT
    if kind == "extract":
        return _EXTRACT
    if kind == "classify":
        return _CLASSIFY
    if kind == "tool":
        return _TOOL
    if kind == "set":
        return _SET
    if kind == "interrupt":
        return _INTERRUPT
    if kind == "subgraph":
        return _SUBGRAPH
    if kind == "python":
        return _PYTHON
    assert_never(kind)


KINDS: dict[NodeKind, NodeKindSpec[Any]] = {kind: kind_spec(kind) for kind in NODE_KINDS}
"""Every node kind, in the runtime's order."""


def spec_of(node: Node) -> NodeKindSpec[Any]:
    """The registry entry of a node."""
    return KINDS[node.kind]
