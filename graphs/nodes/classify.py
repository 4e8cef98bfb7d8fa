"""`classify`: the model picks one label (forced tool call); never shown to the user."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from graphs.nodes._common import NOSTREAM, NodeContext, NodeError, NodeFn, prompt_messages
from graphs.plan import ClassifyNodePlan

TOOL_NAME = "choose_label"


def build(node_id: str, node: ClassifyNodePlan, ctx: NodeContext) -> NodeFn:
    labels = node["labels"]
    described = "; ".join(f"{label}: {why}" for label, why in labels.items())
    tool = {"type": "function", "function": {
        "name": TOOL_NAME,
        "description": f"Pick the one label that fits. {described}",
        "parameters": {"type": "object", "properties": {"label": {"type": "string", "enum": list(labels)}},
                       "required": ["label"]},
    }}
    bound = ctx.models[node["model"]].bind_tools([tool], tool_choice=TOOL_NAME)

    async def classify(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        answer = await bound.ainvoke(prompt_messages(ctx, node, state), NOSTREAM)
        label = answer.tool_calls[0]["args"].get("label") if answer.tool_calls else None
        if label not in labels:
            if answer.tool_calls or answer.text.strip() not in labels:
                said = f"the model chose {label!r}" if answer.tool_calls else (
                    f"the model did not call {TOOL_NAME} (it said {answer.text.strip()[:120]!r})")
                raise NodeError(f"classify node {node_id!r}: {said}, not one of {list(labels)}",
                                code="bad_model_output", retryable=True)
            label = answer.text.strip()
        return {node["into"]: label}

    return classify
