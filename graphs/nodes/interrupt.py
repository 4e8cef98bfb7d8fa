"""`interrupt`: pause and ask the user; the next user message on the thread is the answer.

The question is that turn's reply: the turn runner streams it as tokens when the run pauses, so it
is not emitted twice when LangGraph re-runs this node on resume.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt

from graphs.nodes._common import NodeContext, NodeFn, variables
from graphs.plan import NodePlan
from graphs.templates import render


def build(node_id: str, node: NodePlan, ctx: NodeContext) -> NodeFn:
    async def ask(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        question = render(node["message"], variables(ctx, state))
        answer = interrupt({"question": question, "node": node_id})
        text = answer if isinstance(answer, str) else str(answer)
        return {node["into"]: text, "messages": [AIMessage(content=question), HumanMessage(content=text)]}

    return ask
