"""`tool`: calls one tool with arguments computed by CEL over the state."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from graphs.events import ToolEvent
from graphs.expressions import CelError, evaluate, reads_messages
from graphs.fixtures import from_config, node_path
from graphs.nodes._common import NodeContext, NodeError, NodeFn, emit
from graphs.plan import ToolNodePlan
from graphs.state import state_view
from graphs.tools import ToolError


def build(node_id: str, node: ToolNodePlan, ctx: NodeContext) -> NodeFn:
    with_messages = reads_messages(*node["args"].values())

    async def tool(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        view = {"state": state_view(state, ctx.plan["state"], messages=with_messages)}
        try:
            args = {name: evaluate(expr, view) for name, expr in node["args"].items()}
            result = await ctx.toolbox.call(node["tool"], args, fixtures=from_config(config))
        except (CelError, ToolError) as exc:
            raise NodeError(f"tool node {node_id!r}: {exc}", code="tool_error") from None
        emit(ToolEvent(name=node["tool"], args=args, result=result, node=node_path(config, node_id)))
        into = node["into"]
        return {into: result} if into else {}

    return tool
