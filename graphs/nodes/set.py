"""`set`: slots from CEL expressions over the state."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from graphs.expressions import CelError, evaluate, reads_messages
from graphs.nodes._common import NodeContext, NodeError, NodeFn
from graphs.plan import SetNodePlan
from graphs.state import state_view


def build(node_id: str, node: SetNodePlan, ctx: NodeContext) -> NodeFn:
    with_messages = reads_messages(*node["values"].values())

    async def set_slots(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        view = {"state": state_view(state, ctx.plan["state"], messages=with_messages)}
        try:
            return {slot: evaluate(expr, view) for slot, expr in node["values"].items()}
        except CelError as exc:
            raise NodeError(f"set node {node_id!r}: {exc}", code="expression_error") from None

    return set_slots
