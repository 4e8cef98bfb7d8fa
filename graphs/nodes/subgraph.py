"""`subgraph`: another spec's compiled graph run as one node, sharing the thread's checkpointer."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from graphs.expressions import CelError, evaluate, reads_messages
from graphs.nodes._common import NodeContext, NodeError, NodeFn
from graphs.plan import SubgraphNodePlan
from graphs.state import initial_values, state_view


def build(node_id: str, node: SubgraphNodePlan, ctx: NodeContext) -> NodeFn:
    child = ctx.subgraphs[node_id]
    child_plan = node["plan"]

    reads_parent = reads_messages(*node["input"].values())
    reads_child = reads_messages(*node["output"].values())

    async def run_child(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        view = {"state": state_view(state, ctx.plan["state"], messages=reads_parent)}
        try:
            child_input = initial_values(child_plan["state"])
            child_input.update({slot: evaluate(expr, view) for slot, expr in node["input"].items()})
            child_input["messages"] = list(state.get("messages", []))
            result = await child.ainvoke(child_input, config)
            child_view = {"state": state_view(result, child_plan["state"], messages=reads_child)}
            updates = {slot: evaluate(expr, child_view) for slot, expr in node["output"].items()}
        except CelError as exc:
            raise NodeError(f"subgraph node {node_id!r}: {exc}", code="expression_error") from None
        known = {getattr(m, "id", None) for m in state.get("messages", [])}
        new_messages = [m for m in result.get("messages", []) if m.id not in known]
        if new_messages:
            updates["messages"] = new_messages
        return updates

    return run_child
