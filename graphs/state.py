"""The typed state of a compiled agent: `messages` plus the spec's slots, each with its reducer."""

from __future__ import annotations

import copy
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, overload

from langchain_core.messages import AnyMessage, BaseMessage, BaseMessageChunk, RemoveMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from graphs.plan import SlotPlan

__all__ = [
    "LazyMessages",
    "append_messages",
    "append_reducer",
    "initial_values",
    "merge_reducer",
    "state_schema",
    "state_view",
]


def append_reducer(old: list[Any] | None, new: Any) -> list[Any]:
    """`append`: a list grows by the item (or the items of a list) a node writes."""
    items = new if isinstance(new, list) else [new]
    return [*(old or []), *items]


def merge_reducer(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """`merge`: an object gains (or overwrites) the keys a node writes."""
    return {**(old or {}), **(new or {})}


def append_messages(left: Any, right: Any) -> Any:
    """LangGraph's `add_messages`, without indexing the whole history when a node only adds.

    `add_messages` builds a map of every message's id on each update (0.7 ms at 2,000 messages,
    twice a turn). When every new message is a plain message with an id the list does not hold
    yet (a node's answer, the user's message), the result is the list plus them; the ids of the
    lists made here are kept (for the last `_KEPT_INDEXES` lists) so the next update checks its
    new ids against a set. Anything else (a replacement, a removal, chunks, messages as dicts or
    tuples) is `add_messages` itself.
    """
    new = right if isinstance(right, list) else [right]
    if type(left) is not list or not all(_is_plain(message) for message in new):
        return add_messages(left, right)
    ids = _ids_of(left)
    if ids is None:
        return add_messages(left, right)
    for message in new:
        if message.id is None:
            message.id = str(uuid.uuid4())  # as add_messages does
    added = {message.id for message in new}
    if len(added) < len(new) or not ids.isdisjoint(added):
        return add_messages(left, right)
    merged = [*left, *new]
    _remember_ids(merged, ids | added)
    return merged


def _is_plain(message: Any) -> bool:
    return isinstance(message, BaseMessage) and not isinstance(message, BaseMessageChunk | RemoveMessage)


def _ids_of(messages: list[Any]) -> set[str] | None:
    """The ids of `messages` (None when one is not a plain message with an id)."""
    known = _INDEXES.get(id(messages))
    if known is not None and known[0] is messages and len(known[1]) == len(messages):
        _INDEXES.move_to_end(id(messages))
        return known[1]
    if not all(_is_plain(message) and message.id is not None for message in messages):
        return None
    ids = {message.id for message in messages}
    if len(ids) < len(messages):
        return None
    _remember_ids(messages, ids)
    return ids


def _remember_ids(messages: list[Any], ids: set[str]) -> None:
    _INDEXES[id(messages)] = (messages, ids)  # the list is held: its id stays its own
    while len(_INDEXES) > _KEPT_INDEXES:
        _INDEXES.popitem(last=False)


_INDEXES: OrderedDict[int, tuple[list[Any], set[str]]] = OrderedDict()
_KEPT_INDEXES = 64


def state_schema(slots: dict[str, SlotPlan], *, summary: bool = False) -> type:
    """The graph's state: `messages`, every slot, and the running summary's channel when a node
    summarises its history (`graphs.history`)."""
    fields: dict[str, Any] = {"messages": Annotated[list[AnyMessage], append_messages]}
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
