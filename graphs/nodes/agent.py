"""`agent`: the model calls tools in a loop until it answers; the answer streams."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.runnables import RunnableConfig

from graphs.events import TokenEvent, ToolEvent
from graphs.fixtures import from_config, node_path
from graphs.nodes._common import NodeContext, NodeError, NodeFn, emit, prompt_messages, stream_answer
from graphs.plan import AgentNodePlan
from graphs.tools import ToolError


def build(node_id: str, node: AgentNodePlan, ctx: NodeContext) -> NodeFn:
    tools = node["tools"]
    model = ctx.models[node["model"]]
    bound = model.bind_tools([ctx.toolbox.schema(t) for t in tools]) if tools else model
    max_steps = node["max_steps"]

    async def agent(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        here = node_path(config, node_id)
        conversation: list[BaseMessage] = prompt_messages(ctx, node, state)
        written: list[BaseMessage] = []
        for _ in range(max_steps):
            answer = await stream_answer(bound, conversation, here)
            written.append(answer)
            conversation.append(answer)
            if not answer.tool_calls:
                if not answer.text.strip():
                    raise NodeError(f"agent node {node_id!r}: the model's answer was empty (no text, no tool call)",
                                    code="bad_model_output", retryable=True)
                return {"messages": written}
            for call in answer.tool_calls:
                try:
                    if call["name"] not in tools:
                        raise ToolError(f"the model called {call['name']!r}, which this node does not offer")
                    result = await ctx.toolbox.call(call["name"], call["args"], fixtures=from_config(config))
                    content = json.dumps(result, default=str)
                except ToolError as exc:
                    result, content = {"error": str(exc)}, json.dumps({"error": str(exc)})
                emit(ToolEvent(name=call["name"], args=call["args"], result=result, node=here))
                message = ToolMessage(content=content, tool_call_id=call["id"] or "")
                written.append(message)
                conversation.append(message)
        text = f"I could not finish within {max_steps} steps."
        emit(TokenEvent(text=text, node=here))
        written.append(AIMessage(content=text))
        return {"messages": written}

    return agent
