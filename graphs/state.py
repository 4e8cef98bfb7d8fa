"""The typed state of a compiled agent: `messages` plus the spec's slots, each with its reducer."""

from __future__ import annotations

import copy
from typing import Annotated, Any

from langchain_core.messages import AnyMessage, BaseMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from graphs.plan import SlotPlan

__all__ = ["append_reducer", "initial_values", "merge_reducer", "state_schema", "state_view"]


def append_reducer(old: list[Any] | None, new: Any) -> list[Any]:
    """`append`: a list grows by the item (or the items of a list) a node writes."""
    items = new if isinstance(new, list) else [new]
    return [*(old or []), *items]


def merge_reducer(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """`merge`: an object gains (or overwrites) the keys a node writes."""
    return {**(old or {}), **(new or {})}


def state_schema(slots: dict[str, SlotPlan]) -> type:
    fields: dict[str, Any] = {"messages": Annotated[list[AnyMessage], add_messages]}
    for name, slot in slots.items():
        reducer = slot["reducer"]
        if reducer == "append":
            fields[name] = Annotated[list[Any], append_reducer]
        elif reducer == "merge":
            fields[name] = Annotated[dict[str, Any], merge_reducer]
        else:
            fields[name] = Any
    return TypedDict("AgentState", fields)  # type: ignore[operator]


def initial_values(slots: dict[str, SlotPlan]) -> dict[str, Any]:
    """Slot defaults for a thread's first turn (lists start empty, objects start empty)."""
    values: dict[str, Any] = {}
    for name, slot in slots.items():
        default = copy.deepcopy(slot["default"])
        if default is None and slot["type"].startswith("list"):
            default = []
        if default is None and slot["type"] == "object" and slot["reducer"] == "merge":
            default = {}
        values[name] = default
    return values


def _message_view(message: BaseMessage) -> dict[str, Any]:
    return {"role": message.type, "content": message.text}


def state_view(state: dict[str, Any], slots: dict[str, SlotPlan]) -> dict[str, Any]:
    """Plain data for CEL and Jinja: every slot (null when unset) plus `messages` as role/content."""
    view = {name: state.get(name) for name in slots}
    view["messages"] = [_message_view(m) for m in state.get("messages", [])]
    return view
