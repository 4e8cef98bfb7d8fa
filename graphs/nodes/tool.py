"""`tool`: calls one tool with arguments computed by CEL over the state."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from graphs.expressions import CelError, evaluate
from graphs.fixtures import from_config, node_path
from graphs.nodes._common import NodeContext, NodeError, NodeFn, emit
from graphs.plan import NodePlan
from graphs.state import state_view
from graphs.tools import ToolError


def build(node_id: str, node: NodePlan, ctx: NodeContext) -> NodeFn:
    async def tool(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        view = {"state": state_view(state, ctx.plan["state"])}
        try:
            args = {name: evaluate(expr, view) for name, expr in node.get("args", {}).items()}
            result = await ctx.toolbox.call(node["tool"], args, fixtures=from_config(config))
        except (CelError, ToolError) as exc:
            raise NodeError(f"tool node {node_id!r}: {exc}", code="tool_error") from None
        emit("tool", name=node["tool"], args=args, result=result, node=node_path(config, node_id))
        return {node["into"]: result} if node.get("into") else {}

    return tool
