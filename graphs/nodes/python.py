"""`python`: the escape hatch, `module:function(state) -> dict` of slot updates.

The function gets plain data (the slots and `messages` as role/content), the same view CEL and
Jinja see, so it cannot mutate the checkpointed state behind LangGraph's back. Returning `None`
changes nothing.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from langchain_core.runnables import RunnableConfig

from graphs.nodes._common import NodeContext, NodeError, NodeFn
from graphs.plan import PythonNodePlan
from graphs.state import state_view
from graphs.tools import ToolError


def build(node_id: str, node: PythonNodePlan, ctx: NodeContext) -> NodeFn:
    try:
        function = ctx.toolbox.function(node["function"])
    except ToolError as exc:
        raise NodeError(f"python node {node_id!r}: {exc}", code="python_error") from None
    allowed = set(ctx.plan["state"])

    async def call(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        view = state_view(state, ctx.plan["state"])
        try:
            if inspect.iscoroutinefunction(function):
                result = await function(view)
            else:  # a worker thread: a slow function must not stall the server's other threads
                result = await asyncio.to_thread(function, view)
        except NodeError:
            raise
        except Exception as exc:
            raise NodeError(f"python node {node_id!r} failed: {type(exc).__name__}: {exc}",
                            code="python_error") from None
        if result is None:
            return {}
        if not isinstance(result, dict) or not set(result) <= allowed:
            unknown = sorted(set(result) - allowed) if isinstance(result, dict) else None
            raise NodeError(f"python node {node_id!r} must return a dict of known slots "
                            f"(unknown: {unknown}), got {result!r}", code="bad_node_output")
        return result

    return call
