"""The one encoder from a turn's typed events (`graphs.events`) to the Agent Server API's SSE events.

Per stream mode, as LangGraph's server sends them:

- always: `metadata` `{run_id, attempt}` first; `error` `{error, message}` when the turn fails
  (the thread is then as it was before the run);
- `values`: the whole state after each step (messages as LangChain dicts); a pause at an interrupt
  adds `__interrupt__: [{value, id}]` to the last one;
- `updates`: `{node: what it wrote}` per step of the top-level graph, `{"__interrupt__": [...]}` for a pause;
- `messages-tuple`: one `messages` event per model token, `[AIMessageChunk, metadata]`, keyed by
  the id of the message the node then writes (so clients merge chunks into it);
- `custom`: what the nodes write to LangGraph's custom stream, which in a factory agent is its own
  `node`, `token` and `tool` events, as `{"event": NAME, ...data}`;
- `tools`: `on_tool_start` `{name, input}` and `on_tool_end` `{name, output}` per tool call (both
  once the tool returned: the factory reports a call with its result).

The text of an interrupt's question is no model message: it reaches clients as the interrupt's
`value` (`{question, node}`), not as tokens. The factory's `interrupt`, `state` and `end` events
have no counterpart of their own (`values`, and the run's status, carry them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, assert_never

import orjson

from graphs.events import (
    EndEvent,
    ErrorEvent,
    Event,
    InterruptEvent,
    MetadataEvent,
    NodeEvent,
    StateEvent,
    TokenEvent,
    ToolEvent,
    UpdateEvent,
    ValuesEvent,
)
from graphs.runs import StreamName
from graphs.server.agent_server._context import dumps
from graphs.server.agent_server._models import StreamMode

__all__ = ["Encoder", "Frame", "needs_step_events"]

Frame = tuple[StreamName, bytes]


def needs_step_events(modes: tuple[StreamMode, ...]) -> bool:
    """Whether the turn must report its steps (`Agent.turn(step_events=True)`) for these modes."""
    return "values" in modes or "updates" in modes


@dataclass
class Encoder:
    """Encodes one run's events for the stream modes it was asked for."""

    modes: tuple[StreamMode, ...]
    run_id: str
    thread_id: str
    graph_id: str
    _message_meta: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._values = "values" in self.modes
        self._updates = "updates" in self.modes
        self._messages = "messages-tuple" in self.modes
        self._custom = "custom" in self.modes
        self._tools = "tools" in self.modes

    def __call__(self, event: Event) -> list[Frame]:
        if isinstance(event, TokenEvent):  # first: one per token, the hot path
            return self._token(event)
        if isinstance(event, ValuesEvent):
            return [("values", dumps(_interrupts_listed(event.values)))] if self._values else []
        if isinstance(event, UpdateEvent):
            return [("updates", dumps(_interrupts_listed(event.updates)))] if self._updates else []
        if isinstance(event, MetadataEvent):
            return [("metadata", dumps({"run_id": self.run_id, "attempt": 1}))]
        if isinstance(event, ToolEvent):
            return self._tool(event)
        if isinstance(event, NodeEvent):
            return [("custom", dumps({"event": event.event, **event.to_data()}))] if self._custom else []
        if isinstance(event, ErrorEvent):
            return [("error", dumps({"error": event.code, "message": event.message}))]
        if isinstance(event, InterruptEvent | StateEvent | EndEvent):
            return []
        assert_never(event)

    def _token(self, event: TokenEvent) -> list[Frame]:
        if event.message_id is None:  # an interrupt's question: its text is the interrupt's value
            return []
        frames: list[Frame] = []
        if self._messages:
            chunk = orjson.dumps({**_CHUNK, "content": event.text, "id": event.message_id})
            frames.append(("messages", b"[%s,%s]" % (chunk, self._meta(event.node))))
        if self._custom:
            frames.append(("custom", dumps({"event": "token", **event.to_data()})))
        return frames

    def _tool(self, event: ToolEvent) -> list[Frame]:
        frames: list[Frame] = []
        if self._tools:
            frames.append(("tools", dumps({"event": "on_tool_start", "toolCallId": None, "name": event.name,
                                           "input": event.args})))
            frames.append(("tools", dumps({"event": "on_tool_end", "toolCallId": None, "name": event.name,
                                           "output": event.result})))
        if self._custom:
            frames.append(("custom", dumps({"event": event.event, **event.to_data()})))
        return frames

    def _meta(self, node: str) -> bytes:
        """The `messages` metadata for a node (`collect_address.parse`: node `parse` inside `collect_address`)."""
        meta = self._message_meta.get(node)
        if meta is None:
            parent, _, name = node.rpartition(".")
            meta = self._message_meta[node] = orjson.dumps({
                "run_id": self.run_id, "thread_id": self.thread_id, "graph_id": self.graph_id,
                "assistant_id": self.graph_id, "langgraph_node": name,
                "langgraph_checkpoint_ns": parent.replace(".", "|"), "factory_node": node,
            })
        return meta


_CHUNK: dict[str, Any] = {
    "content": "", "additional_kwargs": {}, "response_metadata": {}, "type": "AIMessageChunk", "name": None,
    "id": None, "tool_calls": [], "invalid_tool_calls": [], "usage_metadata": None, "tool_call_chunks": [],
    "chunk_position": None,
}
"""`AIMessageChunk(...).model_dump()` of langchain-core, the shape LangGraph's server sends."""


def _interrupts_listed(values: dict[str, Any]) -> dict[str, Any]:
    """LangGraph gives `__interrupt__` as a tuple of `Interrupt`s; the API sends a list of `{value, id}`."""
    pending = values.get("__interrupt__")
    if pending is None:
        return values
    return {**values, "__interrupt__": [{"value": i.value, "id": i.id} for i in pending]}
