"""The Agent Server API's stream, read back into the typed events of `graphs.events`.

A run streamed with `stream_mode=["values", "messages-tuple", "custom"]` and `stream_subgraphs`
sends stream parts named by mode (`custom|ns` inside a subgraph). What becomes what:

- `metadata` (`run_id`) -> `MetadataEvent`, always first;
- `custom`: a factory agent writes its own `node`, `token` and `tool` events there (and usage
  reports); they are parsed with `graphs.events.parse_event` (a frame that claims to be one of ours
  and does not parse is a protocol error). Once one arrives, the run's tokens come from there;
- `messages` (`[chunk, metadata]`): the tokens of any other LangGraph graph;
- `values` (top level): the state; its `__interrupt__` is the pending interrupt;
- `error` (`{"error", "message"}`) -> `ErrorEvent`, the last event.

At the end of the stream come what the factory's own turn ends with: the interrupt's question as
the reply (set apart from what a node already said, as `graphs.agent` does), `InterruptEvent`,
`StateEvent` (the slots, without `messages`) and an `EndEvent` timed by this client from the run's
`metadata` event (when the server starts the run: its time waiting in the server's queue is not the
agent's, as it is not in the factory's own `end` event).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, get_args

from factory.client._base import ClientError
from graphs.events import (
    EndEvent,
    ErrorCode,
    ErrorEvent,
    Event,
    EventName,
    InterruptEvent,
    MetadataEvent,
    NodeEvent,
    StateEvent,
    TokenEvent,
    ToolEvent,
    UsageReport,
    parse_event,
)

__all__ = ["RunReader", "STREAM_MODES"]

STREAM_MODES = ["values", "messages-tuple", "custom"]
"""What a client asks a run to stream (Agent Chat UI asks the same)."""

_OURS = frozenset(get_args(EventName))
_STREAMED = (NodeEvent, TokenEvent, ToolEvent)  # what a factory graph writes on its custom stream
_USAGE_KEYS = frozenset(f.name for f in fields(UsageReport))
_INTERRUPT_KEY = "__interrupt__"
_ERROR_CODES: dict[str, ErrorCode] = {  # exception names LangGraph's server reports -> our codes
    "TimeoutError": "timeout", "CancelledError": "cancelled", "RateLimitError": "model_rate_limited",
    "APITimeoutError": "model_timeout", "APIConnectionError": "model_unreachable",
}


def _text(content: Any) -> str:
    """A message chunk's text: a string, or the `text` blocks of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


@dataclass
class RunReader:
    """One run's stream parts in, typed events out (`feed` per part, `finish` at the end)."""

    thread_id: str
    agent: str
    started: float = field(default_factory=time.perf_counter)
    run_id: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    interrupts: list[Any] = field(default_factory=list)
    failed: bool = False
    _ours: bool = False
    _first_token: float | None = None
    _reply: list[str] = field(default_factory=list)
    _path: list[str] = field(default_factory=list)
    _usage: dict[str, int] = field(default_factory=dict)

    def feed(self, name: str, data: Any) -> list[Event]:
        """The events one stream part (`name` as sent, `custom|ns` included) stands for."""
        mode, _, namespace = name.partition("|")
        handler: Callable[[Any, str], list[Event]] | None = {
            "metadata": self._metadata, "custom": self._custom, "messages": self._messages,
            "values": self._values, "error": self._error,
        }.get(mode)
        return handler(data, namespace) if handler is not None else []

    def finish(self) -> list[Event]:
        """What ends a run that did not fail: the interrupt, the state, the `end`."""
        if self.run_id is None:
            raise ClientError("the Agent Server's stream ended before its `metadata` event",
                              "is this an Agent Server? try --protocol sse for a factory server",
                              kind="protocol", code="no_end")
        events: list[Event] = []
        question: dict[str, Any] | None = None
        if self.interrupts:
            question = self._question(self.interrupts[0])
            text = question["question"]
            if self._reply and not self._reply[-1].endswith("\n"):
                text = "\n\n" + text  # set apart from what a node already said, as graphs.agent does
            events.append(self._token(text, question["node"]))
            events.append(InterruptEvent(question=question["question"], node=question["node"]))
        slots = {k: v for k, v in self.values.items() if k not in ("messages", _INTERRUPT_KEY)}
        events.append(StateEvent(values=slots))
        events.append(EndEvent(reply="".join(self._reply), usage=dict(self._usage), path=list(self._path),
                               interrupted=question is not None, first_token_ms=self._ms(self._first_token),
                               total_ms=self._ms(time.perf_counter())))
        return events

    # ------------------------------------------------------------------ one handler per mode

    def _metadata(self, data: Any, namespace: str) -> list[Event]:
        if self.run_id is not None or not isinstance(data, dict) or not data.get("run_id"):
            return []
        self.run_id = str(data["run_id"])
        self.started = time.perf_counter()  # the run starts now: its time in the server's queue is not the agent's
        return [MetadataEvent(thread_id=self.thread_id, run_id=self.run_id, agent=self.agent)]

    def _custom(self, data: Any, namespace: str) -> list[Event]:
        if not isinstance(data, dict):
            return []
        name = data.get("event")
        if name in _OURS:
            try:
                event = parse_event(str(name), {k: v for k, v in data.items() if k != "event"})
            except ValueError as exc:
                raise ClientError(f"the agent wrote an event that does not parse: {exc}",
                                  "are the client and the agent's runtime the same version?",
                                  kind="protocol") from None
            if not isinstance(event, _STREAMED):
                return []  # the client itself says how a run ends
            self._ours = True
            if isinstance(event, TokenEvent):
                self._note_token(event.text)
            elif isinstance(event, NodeEvent) and event.phase == "start":
                self._path.append(event.node)
            return [event]
        if name is None and set(data) <= _USAGE_KEYS and "node" in data:
            for key in ("input_tokens", "output_tokens", "total_tokens"):
                self._usage[key] = self._usage.get(key, 0) + int(data.get(key) or 0)
        return []

    def _messages(self, data: Any, namespace: str) -> list[Event]:
        if self._ours or not isinstance(data, list | tuple) or len(data) != 2:
            return []
        chunk, meta = data
        if not isinstance(chunk, dict) or not str(chunk.get("type", "")).startswith("AIMessage"):
            return []
        text = _text(chunk.get("content"))
        node = str((meta or {}).get("langgraph_node", "")) if isinstance(meta, dict) else ""
        return [self._token(text, node)] if text else []

    def _values(self, data: Any, namespace: str) -> list[Event]:
        if namespace or not isinstance(data, dict):
            return []  # a subgraph's own state is not the thread's
        if data.get(_INTERRUPT_KEY):
            self.interrupts = list(data[_INTERRUPT_KEY])
        rest = {k: v for k, v in data.items() if k != _INTERRUPT_KEY}
        if rest:
            self.values = rest
        return []

    def _error(self, data: Any, namespace: str) -> list[Event]:
        data = data if isinstance(data, dict) else {"message": str(data)}
        kind, message = str(data.get("error") or "Error"), str(data.get("message") or "")
        self.failed = True
        code = _ERROR_CODES.get(kind, "internal_error")
        return [ErrorEvent.of(code, f"{kind}: {message}" if message else kind)]

    # ------------------------------------------------------------------ helpers

    def _token(self, text: str, node: str) -> TokenEvent:
        self._note_token(text)
        return TokenEvent(text=text, node=node)

    def _note_token(self, text: str) -> None:
        if self._first_token is None:
            self._first_token = time.perf_counter()
        self._reply.append(text)

    def _ms(self, moment: float | None) -> float | None:
        return None if moment is None else round((moment - self.started) * 1000, 2)

    @staticmethod
    def _question(interrupt: Any) -> dict[str, str]:
        """A factory interrupt's value is `{"question", "node"}`; any other graph's is shown as text."""
        value = interrupt.get("value") if isinstance(interrupt, dict) else interrupt
        if isinstance(value, dict) and isinstance(value.get("question"), str):
            return {"question": value["question"], "node": str(value.get("node") or "")}
        return {"question": value if isinstance(value, str) else str(value), "node": ""}
