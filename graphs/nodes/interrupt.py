"""`interrupt`: pause and ask the user; the next user message on the thread is the answer.

The question is that turn's reply: the turn runner streams it as tokens when the run pauses, so it
is not emitted twice when LangGraph re-runs this node on resume.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt

from graphs.fixtures import node_path
from graphs.nodes._common import NodeContext, NodeFn, render_for
from graphs.plan import InterruptNodePlan


def build(node_id: str, node: InterruptNodePlan, ctx: NodeContext) -> NodeFn:
    async def ask(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        question = render_for(node["message"], ctx, state)
        answer = interrupt({"question": question, "node": node_path(config, node_id)})
        text = answer if isinstance(answer, str) else str(answer)
        return {node["into"]: text, "messages": [AIMessage(content=question), HumanMessage(content=text)]}

    return ask
