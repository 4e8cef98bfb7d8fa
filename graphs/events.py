"""The one vocabulary of a turn: every event, typed, and every error code, listed once.

`Agent.turn()` yields these events; every wire protocol (`graphs/server/`) is an encoder of them and
every client (`factory/client/`) a decoder. Events are frozen dataclasses discriminated by their
`event` name (a `Literal`), as pydantic-ai's stream events are: a consumer matches on the class
(`isinstance(event, TokenEvent)`) and never compares a name to a string.

On the wire an event is `{"event": NAME, "data": {...}}`: `data` is the event's fields without
`event` (for `state`, the slots themselves). `parse_event(name, data)` is the way back.

Error codes: `ErrorCode` is the closed set of codes the project emits, in `error` events, in HTTP
error bodies and in WebSocket error frames; `ERROR_CODES` says, for each, what it means, whether
retrying can help, and the HTTP status a request refused with it gets. `docs/errors.md` is
generated from that table (a test keeps the two equal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, Literal, TypeAlias, get_args

__all__ = [
    "ERROR_CODES",
    "THREAD_ID_PATTERN",
    "THREAD_ID_RULE",
    "EndEvent",
    "ErrorCode",
    "ErrorCodeInfo",
    "ErrorEvent",
    "Event",
    "EventName",
    "InterruptEvent",
    "MetadataEvent",
    "NodeEvent",
    "NodePhase",
    "StateEvent",
    "TokenEvent",
    "ToolEvent",
    "UpdateEvent",
    "UsageReport",
    "ValuesEvent",
    "parse_event",
    "valid_thread_id",
]

EventName = Literal["metadata", "node", "token", "tool", "interrupt", "state", "error", "end", "values", "update"]
NodePhase = Literal["start", "end"]

THREAD_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"
"""What every surface accepts as a thread id (HTTP bodies, WebSocket paths, headers, the chat client)."""
THREAD_ID_RULE = "1 to 128 letters, digits, `_`, `.`, `:` or `-`"
_THREAD_ID = re.compile(THREAD_ID_PATTERN)


def valid_thread_id(thread_id: str) -> bool:
    """True when `thread_id` matches `THREAD_ID_PATTERN`."""
    return bool(_THREAD_ID.fullmatch(thread_id))


# ---------------------------------------------------------------------------------- error codes

ErrorCode = Literal[
    # a turn failed (an `error` event; the thread is restored to its state before the turn)
    "model_rate_limited",
    "model_timeout",
    "model_unreachable",
    "model_error",
    "context_length",
    "bad_model_output",
    "template_error",
    "expression_error",
    "no_route",
    "tool_error",
    "python_error",
    "bad_node_output",
    "timeout",
    "cancelled",
    "internal_error",
    # a request was refused before a turn started (HTTP error bodies, WebSocket error frames)
    "thread_busy",
    "invalid_request",
    "bad_json",
    "bad_frame",
    "unknown_frame",
    "frame_too_large",
    "body_too_large",
    "message_too_long",
    "bad_thread_id",
    "forbidden",
    "unauthorized",
    "not_found",
    "not_ready",
    "no_turn",
    "already_exists",
    "no_interrupt",
    # seen by a client only (the factory's own client, `factory test` and `factory chat`)
    "client_error",
    "no_end",
]
ErrorOrigin = Literal["turn", "request", "client"]


@dataclass(frozen=True, slots=True)
class ErrorCodeInfo:
    """What an error code means, whether a retry can help, and the HTTP status it is answered with."""

    origin: ErrorOrigin
    retryable: bool
    status: int
    meaning: str


ERROR_CODES: dict[ErrorCode, ErrorCodeInfo] = {
    "model_rate_limited": ErrorCodeInfo("turn", True, 429, "The model server answered 429 (rate limited)."),
    "model_timeout": ErrorCodeInfo("turn", True, 504, "The model did not answer within the model's `timeout_s`."),
    "model_unreachable": ErrorCodeInfo(
        "turn", True, 502, "The model server could not be reached, or it cut the stream."),
    "model_error": ErrorCodeInfo(
        "turn", True, 502, "The model server answered an HTTP error (retryable when it was a 5xx)."),
    "context_length": ErrorCodeInfo(
        "turn", False, 400,
        "The prompt is longer than the model's context window; give the node or model a `history` window."),
    "bad_model_output": ErrorCodeInfo(
        "turn", True, 502,
        "The model's answer does not fit the node (a label outside the set, arguments that fail the "
        "schema, an empty answer); another sample may fit."),
    "template_error": ErrorCodeInfo("turn", False, 500, "A prompt or message template failed to render."),
    "expression_error": ErrorCodeInfo("turn", False, 500, "A CEL expression failed at run time."),
    "no_route": ErrorCodeInfo("turn", False, 500, "No edge leaving a node holds for the current state."),
    "tool_error": ErrorCodeInfo("turn", False, 502, "A `tool` node's tool failed."),
    "python_error": ErrorCodeInfo("turn", False, 500, "A `python` node raised, or its module did not import."),
    "bad_node_output": ErrorCodeInfo(
        "turn", False, 500, "A `python` node returned something other than a dict of known slots."),
    "timeout": ErrorCodeInfo("turn", True, 504, "The turn took too long."),
    "cancelled": ErrorCodeInfo(
        "turn", True, 499, "The turn was cancelled (by the client or a shutdown); the thread is as it was."),
    "internal_error": ErrorCodeInfo("turn", False, 500, "An unexpected failure; the server log has the details."),
    "thread_busy": ErrorCodeInfo(
        "request", True, 409, "A turn is already running on this thread; wait for its `end`, or cancel it."),
    "invalid_request": ErrorCodeInfo(
        "request", False, 422, "The request body, query or headers do not match the route's schema."),
    "bad_json": ErrorCodeInfo("request", False, 422, "A WebSocket frame is not valid JSON."),
    "bad_frame": ErrorCodeInfo("request", False, 422, "A WebSocket frame misses a field or has a wrong type."),
    "unknown_frame": ErrorCodeInfo("request", False, 422, "A WebSocket frame has an unknown `type`."),
    "frame_too_large": ErrorCodeInfo(
        "request", False, 413, "A WebSocket frame is larger than `serve.max_body_bytes`."),
    "body_too_large": ErrorCodeInfo("request", False, 413, "A request body is larger than `serve.max_body_bytes`."),
    "message_too_long": ErrorCodeInfo(
        "request", False, 422, "A user message is longer than `serve.max_message_chars`."),
    "bad_thread_id": ErrorCodeInfo("request", False, 422, f"A thread id is not {THREAD_ID_RULE}."),
    "forbidden": ErrorCodeInfo(
        "request", False, 403, "`script`/`mocks` were sent to a server that is not in test mode."),
    "unauthorized": ErrorCodeInfo("request", False, 401, "The API key is missing or not accepted."),
    "not_found": ErrorCodeInfo("request", False, 404, "The thread, run, assistant or model does not exist."),
    "not_ready": ErrorCodeInfo(
        "request", True, 503, "The agent is still starting, or the server is shutting down."),
    "no_turn": ErrorCodeInfo("request", False, 409, "A `cancel` frame arrived when no turn was running."),
    "already_exists": ErrorCodeInfo(
        "request", False, 409, "A thread with this id already exists (send `if_exists: do_nothing` to reuse it)."),
    "no_interrupt": ErrorCodeInfo(
        "request", False, 409, "A resume was sent for a thread that is not paused at an interrupt."),
    "client_error": ErrorCodeInfo(
        "client", True, 0, "The client failed while reading the stream (a broken connection, a bad frame)."),
    "no_end": ErrorCodeInfo("client", True, 0, "The event stream stopped without an `end` event."),
}
assert set(ERROR_CODES) == set(get_args(ErrorCode)), "every ErrorCode has its ERROR_CODES entry"


# ---------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True, kw_only=True)
class _Base:
    def to_data(self) -> dict[str, Any]:
        """The event's `data` on the wire: every field but `event` (and those marked local)."""
        return {f.name: getattr(self, f.name) for f in _wire_fields(type(self))}

    def as_dict(self) -> dict[str, Any]:
        """`{"event": NAME, "data": {...}}`, the shape every JSON wire protocol carries."""
        return {"event": getattr(self, "event"), "data": self.to_data()}  # noqa: B009 - declared by subclasses


_WIRE_FIELDS: dict[type[Any], tuple[Any, ...]] = {}


def _wire_fields(cls: type[Any]) -> tuple[Any, ...]:
    found = _WIRE_FIELDS.get(cls)
    if found is None:
        found = _WIRE_FIELDS[cls] = tuple(f for f in fields(cls) if f.name != "event" and f.metadata.get("wire", True))
    return found


_LOCAL: dict[str, Any] = {"wire": False}
"""Field metadata of what in-process consumers read but the factory's own wire (SSE, WebSocket) omits."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MetadataEvent(_Base):
    """Always first: which thread and run this is, and which agent answers."""

    event: Literal["metadata"] = "metadata"
    thread_id: str
    run_id: str
    agent: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeEvent(_Base):
    """A node started or ended (`node` is its path: `collect_address.parse` inside a subgraph node)."""

    event: Literal["node"] = "node"
    node: str
    kind: str
    phase: NodePhase


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenEvent(_Base):
    """A piece of the reply, as the model streamed it.

    `message_id` is the id of the model message the piece belongs to (the message the node then
    writes to the thread), so the Agent Server API can key its message chunks the way its clients
    merge them; None for text that is no message (an interrupt's question). Not on the factory's
    own wire.
    """

    event: Literal["token"] = "token"
    text: str
    node: str
    message_id: str | None = field(default=None, metadata=_LOCAL)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolEvent(_Base):
    """A tool was called (by an `agent` or a `tool` node) and gave `result`."""

    event: Literal["tool"] = "tool"
    name: str
    args: dict[str, Any]
    result: Any
    node: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InterruptEvent(_Base):
    """The run paused at an `interrupt` node; the next user message answers `question`."""

    event: Literal["interrupt"] = "interrupt"
    question: str
    node: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StateEvent(_Base):
    """The slots after the turn. On the wire its `data` is the slots themselves."""

    event: Literal["state"] = "state"
    values: dict[str, Any] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        return self.values


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorEvent(_Base):
    """The turn failed; the thread is as it was before it. Last event of a failed turn."""

    event: Literal["error"] = "error"
    code: ErrorCode
    message: str
    retryable: bool

    @classmethod
    def of(cls, code: ErrorCode, message: str) -> ErrorEvent:
        """An error event whose `retryable` comes from the code's entry in `ERROR_CODES`."""
        return cls(code=code, message=message, retryable=ERROR_CODES[code].retryable)


@dataclass(frozen=True, slots=True, kw_only=True)
class EndEvent(_Base):
    """Last event of a turn that completed: everything a consumer needs without re-reading the stream."""

    event: Literal["end"] = "end"
    reply: str
    usage: dict[str, int]
    path: list[str]
    interrupted: bool
    first_token_ms: float | None
    total_ms: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ValuesEvent(_Base):
    """The whole state of the graph after a step (LangGraph's `values` stream mode; messages are
    LangChain messages, and a pause adds `__interrupt__`). Only from a turn opened with
    `step_events=True` (the Agent Server API's `values` mode); never on the factory's own wire."""

    event: Literal["values"] = "values"
    values: dict[str, Any] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        return self.values


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateEvent(_Base):
    """What one step's nodes wrote, `{node: update}` (LangGraph's `updates` stream mode, top-level
    graph only; a pause is `{"__interrupt__": [...]}`). Only with `step_events=True`, like `ValuesEvent`."""

    event: Literal["update"] = "update"
    updates: dict[str, Any] = field(default_factory=dict)


Event: TypeAlias = (
    MetadataEvent | NodeEvent | TokenEvent | ToolEvent | InterruptEvent | StateEvent | ErrorEvent | EndEvent
    | ValuesEvent | UpdateEvent
)
"""Every event of a turn (`Agent.turn()` yields these), discriminated by `event`."""

_BY_NAME: dict[str, type[Any]] = {
    "metadata": MetadataEvent, "node": NodeEvent, "token": TokenEvent, "tool": ToolEvent,
    "interrupt": InterruptEvent, "state": StateEvent, "error": ErrorEvent, "end": EndEvent,
    "values": ValuesEvent, "update": UpdateEvent,
}
assert set(_BY_NAME) == set(get_args(EventName)), "every EventName has its event class"


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageReport:
    """Token counts of one model call: a node reports it, `Agent.turn` adds it to `EndEvent.usage`.
    Never sent on the wire."""

    node: str
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


@cache
def _adapter(name: str) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(_BY_NAME[name])


def parse_event(name: str, data: Any) -> Event:
    """The event a wire `{"event": name, "data": data}` carries.

    Raises:
        ValueError: an unknown event name, or data that does not fit the event (a client reports a
            protocol error; it never guesses).
    """
    if name not in _BY_NAME:
        raise ValueError(f"unknown event {name!r}; the vocabulary is {sorted(_BY_NAME)}")
    if not isinstance(data, dict):
        raise ValueError(f"the data of a {name!r} event must be a JSON object, not {type(data).__name__}")
    payload = {"values": data} if name in ("state", "values") else data
    from pydantic import ValidationError

    try:
        event: Event = _adapter(name).validate_python({**payload, "event": name})
    except ValidationError as exc:
        raise ValueError(f"a {name!r} event with unexpected data: {exc.errors(include_url=False)}") from None
    return event
