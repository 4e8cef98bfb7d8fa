"""`extract`: structured output into slots, through a forced tool call; never shown to the user."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from graphs.nodes._common import NOSTREAM, NodeContext, NodeError, NodeFn, prompt_messages
from graphs.plan import ExtractNodePlan, SlotPlan

TOOL_NAME = "record_slots"
_JSON_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean",
               "object": "object"}


def slot_schema(slot: SlotPlan) -> dict[str, Any]:
    kind = slot["type"]
    if kind.startswith("list["):
        schema: dict[str, Any] = {"type": "array", "items": {"type": _JSON_TYPES[kind[5:-1]]}}
    else:
        schema = {"type": _JSON_TYPES[kind]}
    if slot["enum"]:  # for a list slot the enum names the allowed items
        (schema["items"] if kind.startswith("list[") else schema)["enum"] = slot["enum"]
    if slot["description"]:
        schema["description"] = slot["description"]
    return schema


def coerce(slot: SlotPlan, value: Any) -> tuple[bool, Any]:
    """Validate one value the model gave for a slot; `(False, None)` drops it."""
    kind = slot["type"]
    checks = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict}
    if kind.startswith("list["):
        items = value if isinstance(value, list) else [value]
        wanted = checks[kind[5:-1]]
        ok = all(isinstance(i, wanted) for i in items)  # type: ignore[arg-type]
        ok = ok and not (slot["enum"] and any(i not in slot["enum"] for i in items))
        return (ok, items) if ok else (False, None)
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, checks[kind]) or (kind != "boolean" and isinstance(value, bool)):  # type: ignore[arg-type]
        return False, None
    if slot["enum"] and value not in slot["enum"]:
        return False, None
    return True, value


def build(node_id: str, node: ExtractNodePlan, ctx: NodeContext) -> NodeFn:
    slots = {name: ctx.plan["state"][name] for name in node["into"]}
    tool = {"type": "function", "function": {
        "name": TOOL_NAME,
        "description": "Record what the conversation states about these fields. "
                       "Leave out what it does not state.",
        "parameters": {"type": "object", "properties": {n: slot_schema(s) for n, s in slots.items()}},
    }}
    bound = ctx.models[node["model"]].bind_tools([tool], tool_choice=TOOL_NAME)

    async def extract(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        answer = await bound.ainvoke(prompt_messages(ctx, node, state), NOSTREAM)
        if not answer.tool_calls:  # told to call `record_slots`, the model wrote text or broken JSON
            raise NodeError(f"extract node {node_id!r}: the model did not call {TOOL_NAME} with JSON arguments "
                            f"({_what_it_said(answer)})", code="bad_model_output", retryable=True)
        args = answer.tool_calls[0]["args"]
        updates: dict[str, Any] = {}
        for name, slot in slots.items():
            if args.get(name) is not None:
                ok, value = coerce(slot, args[name])
                if ok:
                    updates[name] = value
        return updates

    return extract


def _what_it_said(answer: Any) -> str:
    """A short account of an answer that is not the expected tool call, for the error message."""
    for bad in getattr(answer, "invalid_tool_calls", None) or []:
        return f"its arguments are not JSON: {str(bad.get('args'))[:120]!r}"
    text = answer.text.strip()
    return f"it said {text[:120]!r}" if text else "its answer was empty"
