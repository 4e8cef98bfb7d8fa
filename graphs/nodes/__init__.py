"""Node kinds: one module each, `build(node_id, node, ctx) -> async node function`."""

from __future__ import annotations

import importlib
from typing import Any

from langchain_core.runnables import RunnableConfig

from graphs.fixtures import node_path
from graphs.nodes._common import NodeContext, NodeError, NodeFn, emit
from graphs.plan import NodePlan

__all__ = ["NodeContext", "NodeError", "build_node"]

_MODULES = {"reply": "reply", "agent": "agent", "extract": "extract", "classify": "classify", "tool": "tool",
            "set": "set", "interrupt": "interrupt", "subgraph": "subgraph", "python": "python"}


def build_node(node_id: str, node: NodePlan, ctx: NodeContext) -> NodeFn:
    """The node's function, wrapped to announce its start and end on the event stream.

    Events name the node by its path (`collect_address.parse` inside a subgraph node), the same
    name a test's `script` uses, so a turn's `path` shows where inside a sub-spec it went.
    """
    module = importlib.import_module(f"graphs.nodes.{_MODULES[node['kind']]}")
    inner: NodeFn = module.build(node_id, node, ctx)
    kind = node["kind"]

    async def run(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        name = node_path(config, node_id)
        emit("node", node=name, kind=kind, phase="start")
        result = await inner(state, config)
        emit("node", node=name, kind=kind, phase="end")
        return result

    run.__name__ = node_id
    return run
