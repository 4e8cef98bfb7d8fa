"""Plan -> compiled LangGraph `StateGraph`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.graph import END, START, StateGraph

from graphs.errors import AgentConfigError
from graphs.expressions import evaluate, reads_messages
from graphs.history import summarizer_aliases
from graphs.mcp import McpServers
from graphs.models import make_chat_model, model_override_from_env
from graphs.nodes import NodeContext, NodeError, build_node
from graphs.plan import EdgePlan, Plan, node_model
from graphs.spec_code import SpecCode
from graphs.state import state_schema, state_view
from graphs.tools import Toolbox, ToolError

__all__ = ["agent_tool_names", "build_graph", "make_toolbox", "spec_folder"]

_ENDPOINTS = {"start": START, "end": END}


def _router(source: str, edges: list[EdgePlan], plan: Plan) -> Any:
    with_messages = reads_messages(*(edge["when"] for edge in edges))

    def route(state: dict[str, Any]) -> str:
        view = {"state": state_view(state, plan["state"], messages=with_messages)}
        for edge in edges:
            if edge["when"] is None or evaluate(edge["when"], view) is True:
                return _ENDPOINTS.get(edge["target"], edge["target"])
        # validation requires a default edge unless the conditions cover every value of an enum
        # slot; an unset slot matches none of them
        unset = sorted(name for name, value in view["state"].items() if value is None and name != "messages")
        raise NodeError(f"no edge from {source!r} holds (unset slots: {unset})", code="no_route")

    route.__name__ = f"route_{source}"
    return route


def _used_models(plan: Plan) -> set[str]:
    return {alias for node in plan["nodes"].values() if (alias := node_model(node)) is not None}


def make_toolbox(plan: Plan, *, base_dir: str | Path, mcp: McpServers | None = None) -> Toolbox:
    """The plan's tools, their python code resolved from the spec's folder under `base_dir`."""
    return Toolbox(plan["tools"], SpecCode(spec_folder(plan, base_dir)), mcp=mcp)


def spec_folder(plan: Plan, base_dir: str | Path) -> Path:
    """Where the plan's spec lived: its python modules and an MCP stdio server's working directory."""
    return Path(base_dir) / (plan.get("python_path") or ["."])[0]


def agent_tool_names(plan: Plan) -> set[str]:
    """The tools `agent` nodes offer their model (their schemas are bound when the graph is built)."""
    return {name for node in plan["nodes"].values() if node["kind"] == "agent" for name in node["tools"]}


def build_graph(plan: Plan, *, checkpointer: Any = None, base_dir: str | Path = ".",
                model_override: str | None = None, toolbox: Toolbox | None = None) -> Any:
    """Compile a plan. `base_dir` is where `python:` modules of the spec live.

    Only the model aliases that nodes use are built: a `judge` or `patcher` alias for a hosted
    model must not stop an agent whose nodes run on a local server. `model_override` defaults to
    `FACTORY_MODEL`, so an image started with `FACTORY_MODEL=scripted` runs offline. A subgraph is
    compiled without a checkpointer: it inherits the parent's, which is what lets an `interrupt`
    inside it pause and resume the parent's thread.
    """
    model_override = model_override or model_override_from_env()
    used = _used_models(plan) | summarizer_aliases(plan)
    models = {alias: make_chat_model(settings, override=model_override)
              for alias, settings in plan["models"].items() if alias in used}
    subgraphs = {node_id: build_graph(node["plan"], base_dir=base_dir, model_override=model_override)
                 for node_id, node in plan["nodes"].items() if node["kind"] == "subgraph"}
    ctx = NodeContext(plan=plan, models=models, toolbox=toolbox or make_toolbox(plan, base_dir=base_dir),
                      subgraphs=subgraphs)
    for name, tool in plan["tools"].items():  # load the spec's code now: a broken module fails the start
        if tool["form"] == "python":
            try:
                ctx.toolbox.function(tool["python"])
            except ToolError as exc:
                raise AgentConfigError(f"tool {name!r} of {plan['name']!r}: {exc}") from None
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(
        state_schema(plan["state"], summary=bool(summarizer_aliases(plan))))
    for node_id, node in plan["nodes"].items():
        try:
            function = build_node(node_id, node, ctx)
        except (NodeError, ToolError) as exc:
            raise AgentConfigError(f"node {node_id!r} of {plan['name']!r}: {exc}") from None
        builder.add_node(node_id, function)  # type: ignore[call-overload]
    by_source: dict[str, list[EdgePlan]] = {}
    for edge in plan["edges"]:
        by_source.setdefault(edge["source"], []).append(edge)
    for source, edges in by_source.items():
        start = _ENDPOINTS.get(source, source)
        if len(edges) == 1 and edges[0]["when"] is None:
            builder.add_edge(start, _ENDPOINTS.get(edges[0]["target"], edges[0]["target"]))
        else:
            targets = sorted({_ENDPOINTS.get(e["target"], e["target"]) for e in edges})
            builder.add_conditional_edges(start, _router(source, edges, plan), targets)
    return builder.compile(checkpointer=checkpointer, name=plan["name"])
