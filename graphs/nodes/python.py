"""`python`: the escape hatch, `module:function(state) -> dict` of slot updates."""

from __future__ import annotations

import inspect
from typing import Any

from langchain_core.runnables import RunnableConfig

from graphs.nodes._common import NodeContext, NodeError, NodeFn
from graphs.plan import NodePlan
from graphs.state import state_view
from graphs.tools import ToolError, import_function


def build(node_id: str, node: NodePlan, ctx: NodeContext) -> NodeFn:
    try:
        function = import_function(node["function"])
    except ToolError as exc:
        raise NodeError(f"python node {node_id!r}: {exc}", code="import_error") from None
    allowed = set(ctx.plan["state"])

    async def call(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        result = function(state_view(state, ctx.plan["state"]))
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, dict) or not set(result) <= allowed:
            raise NodeError(f"python node {node_id!r} must return a dict of known slots, got {result!r}",
                            code="bad_node_output")
        return result

    return call
