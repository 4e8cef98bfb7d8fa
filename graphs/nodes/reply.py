"""`reply`: one LLM answer to the user, streamed token by token."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from graphs.fixtures import node_path
from graphs.nodes._common import NodeContext, NodeError, NodeFn, prompt_messages, stream_answer
from graphs.plan import ReplyNodePlan


def build(node_id: str, node: ReplyNodePlan, ctx: NodeContext) -> NodeFn:
    model = ctx.models[node["model"]]

    async def reply(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        answer = await stream_answer(model, prompt_messages(ctx, node, state), node_path(config, node_id))
        if not answer.text.strip():
            raise NodeError(f"reply node {node_id!r}: the model's answer was empty", code="bad_model_output",
                            retryable=True)
        return {"messages": [answer]}

    return reply
