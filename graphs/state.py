"""The typed state of a compiled agent: `messages` plus the spec's slots, each with its reducer."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, overload

from langchain_core.messages import AnyMessage, BaseMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from graphs.plan import SlotPlan

__all__ = ["LazyMessages", "append_reducer", "initial_values", "merge_reducer", "state_schema", "state_view"]


def append_reducer(old: list[Any] | None, new: Any) -> list[Any]:
    """`append`: a list grows by the item (or the items of a list) a node writes."""
    items = new if isinstance(new, list) else [new]
    return [*(old or []), *items]


def merge_reducer(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """`merge`: an object gains (or overwrites) the keys a node writes."""
    return {**(old or {}), **(new or {})}


def state_schema(slots: dict[str, SlotPlan], *, summary: bool = False) -> type:
    """The graph's state: `messages`, every slot, and the running summary's channel when a node
    summarises its history (`graphs.history`)."""
    fields: dict[str, Any] = {"messages": Annotated[list[AnyMessage], add_messages]}
    if summary:
        from graphs.history import SUMMARY_CHANNEL

        fields[SUMMARY_CHANNEL] = Any
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


class LazyMessages(Sequence[dict[str, Any]]):
    """`messages` as role/content, converted only when a template reads them.

    A long thread has thousands of messages and most templates never look at them: converting them
    all for every node would make every turn's cost grow with the history.
    """

    def __init__(self, messages: Sequence[BaseMessage]) -> None:
        self._messages = messages
        self._views: list[dict[str, Any]] | None = None

    def _all(self) -> list[dict[str, Any]]:
        if self._views is None:
            self._views = [_message_view(m) for m in self._messages]
        return self._views

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [_message_view(m) for m in self._messages[index]]
        return _message_view(self._messages[index])

    def __len__(self) -> int:
        return len(self._messages)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._all())


def state_view(state: dict[str, Any], slots: dict[str, SlotPlan], *, messages: bool = True) -> dict[str, Any]:
    """Plain data for CEL and Jinja: every slot (null when unset) plus `messages` as role/content.

    `messages=False` leaves the messages out (for a CEL expression that does not name them: see
    `graphs.expressions.reads_messages`); templates get them as `LazyMessages`.
    """
    view = {name: state.get(name) for name in slots}
    if messages:
        view["messages"] = [_message_view(m) for m in state.get("messages", [])]
    return view
