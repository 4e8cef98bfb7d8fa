"""Request and response bodies of the Agent Server API, strict and as the OpenAPI document says.

Field names and shapes are those of LangGraph's server (`langgraph-api`) and its SDKs. A request
field the factory cannot honour is not declared, so it is refused with a 422 that names it,
rather than silently ignored; the few declared fields that change nothing here say so in their
description. JSON types are strict: `"5"` is not an integer and `"true"` is not a boolean.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from graphs.events import THREAD_ID_PATTERN, ErrorCode
from graphs.runs import RunStatus

__all__ = [
    "AssistantOut",
    "AssistantSearch",
    "CheckpointOut",
    "CheckpointRef",
    "ErrorOut",
    "HistoryRequest",
    "InputMessage",
    "InterruptOut",
    "RunCommand",
    "RunConfig",
    "RunCreate",
    "RunInput",
    "RunOut",
    "StreamMode",
    "ThreadCreate",
    "ThreadOut",
    "ThreadPatch",
    "ThreadSearch",
    "ThreadStateOut",
    "ThreadStatus",
    "ThreadTaskOut",
]

StreamMode = Literal["values", "updates", "messages-tuple", "custom", "tools"]
ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
UserRole = Literal["human", "user"]
ID_PATTERN = THREAD_ID_PATTERN


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ContentBlock(BaseModel):
    """A text part of a message's content (the agent reads text)."""

    model_config = ConfigDict(extra="allow", strict=True)

    type: Literal["text"]
    text: str


class InputMessage(_Strict):
    """The user's message as the SDKs send it: `{"role": "user", "content": ...}` or LangChain's
    `{"type": "human", "content": ..., "id": ...}`. Content is text or a list of text blocks."""

    # the route checks that one of them says who speaks; the schema says so too (a client reads it)
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["role"], "properties": {"role": {"enum": ["human", "user"]}}},
        {"required": ["type"], "properties": {"type": {"enum": ["human", "user"]}}},
    ]})

    type: UserRole | None = None
    role: UserRole | None = None
    content: str | list[ContentBlock] = Field(min_length=1)
    id: str | None = None
    name: str | None = None
    additional_kwargs: dict[str, Any] | None = None
    response_metadata: dict[str, Any] | None = None
    example: bool | None = None


class RunInput(_Strict):
    """A run's input: the user's new message. The thread keeps the conversation, so only the last
    message is new and it must come from the user."""

    messages: list[InputMessage] = Field(min_length=1, max_length=1)


class RunCommand(_Strict):
    """Resume a thread paused at an interrupt; `resume` is the answer (text, or JSON that is sent on as text)."""

    resume: JsonValue


class RunConfig(_Strict):
    """Recorded with the run; a factory agent's behaviour is set by its spec, not by run config."""

    tags: list[str] | None = None
    recursion_limit: int | None = None
    configurable: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class CheckpointRef(_Strict):
    """A checkpoint of the thread (as `/threads/{id}/state` and `/history` show them)."""

    thread_id: str | None = None
    checkpoint_id: str | None = None
    checkpoint_ns: str | None = None
    checkpoint_map: dict[str, Any] | None = None


class RunCreate(_Strict):
    """Start a run: one user turn (`input`) or the answer to a pending interrupt (`command`)."""

    # exactly one of `input` and `command` (checked below, and said in the schema)
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["input"], "properties": {"input": {"type": "object"}, "command": {"type": "null"}}},
        {"required": ["command"], "properties": {"command": {"type": "object"}, "input": {"type": "null"}}},
    ]})

    assistant_id: str = Field(min_length=1, max_length=256, description="The graph id (the spec's name).")
    input: RunInput | None = None
    command: RunCommand | None = None
    stream_mode: StreamMode | list[StreamMode] | None = Field(
        default=None, description="What to stream; default `values`.")
    stream_subgraphs: bool = Field(
        default=False, description="Accepted; events of nodes inside subgraphs are always reported at the top.")
    stream_resumable: bool = Field(
        default=False, description="Keep the run's events after it ends, for a reconnect with `Last-Event-ID`.")
    on_disconnect: Literal["cancel", "continue"] = "continue"
    multitask_strategy: Literal["reject"] = Field(
        default="reject", description="A second run on a busy thread is refused with 409.")
    metadata: dict[str, Any] | None = None
    config: RunConfig | None = None
    context: dict[str, Any] | None = Field(default=None, description="Accepted; factory agents take no context.")
    checkpoint: CheckpointRef | None = Field(
        default=None, description="Run from this checkpoint: only the thread's latest one is supported.")
    checkpoint_id: str | None = Field(default=None, description="Like `checkpoint.checkpoint_id`.")
    if_not_exists: Literal["reject", "create"] = "reject"
    on_completion: Literal["delete", "keep"] | None = Field(
        default=None, description="Stateless runs only: keep their thread (default: delete it).")
    durability: Literal["sync", "async", "exit"] | None = Field(
        default=None, description="Accepted; a turn is saved once, when it ends (all or nothing).")
    checkpoint_during: bool | None = Field(default=None, description="Accepted; see `durability`.")
    strict_resume: bool | None = Field(
        default=None, description="Accepted; a resume of a thread with no pending interrupt is always a 409.")

    @model_validator(mode="after")
    def _one_of_input_or_command(self) -> RunCreate:
        if (self.input is None) == (self.command is None):
            raise ValueError(
                "give either `input` (a user message) or `command` ({\"resume\": ...}), not both or neither")
        return self

    def modes(self) -> tuple[StreamMode, ...]:
        if self.stream_mode is None:
            return ("values",)
        if isinstance(self.stream_mode, str):
            return (self.stream_mode,)
        return tuple(dict.fromkeys(self.stream_mode)) or ("values",)


class ThreadCreate(_Strict):
    thread_id: str | None = Field(default=None, pattern=ID_PATTERN, description="Default: a new UUID.")
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"


class ThreadSearch(_Strict):
    metadata: dict[str, Any] | None = Field(default=None, description="Threads whose metadata contains this.")
    ids: list[str] | None = None
    status: ThreadStatus | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["thread_id", "created_at", "updated_at"] = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"


class ThreadPatch(_Strict):
    metadata: dict[str, Any] = Field(description="Merged into the thread's metadata (top-level keys replace).")


class HistoryRequest(_Strict):
    limit: int = Field(default=10, ge=1, le=1000)
    before: str | CheckpointRef | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointRef | None = None


class AssistantSearch(_Strict):
    graph_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None


# ---------------------------------------------------------------------------------- answers


class ErrorOut(BaseModel):
    detail: str
    code: ErrorCode


class AssistantOut(BaseModel):
    assistant_id: str
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any]
    version: int
    name: str
    description: str | None


class InterruptOut(BaseModel):
    value: Any
    id: str


class CheckpointOut(BaseModel):
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str | None
    checkpoint_map: dict[str, Any] | None


class ThreadOut(BaseModel):
    thread_id: str
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any]
    status: ThreadStatus
    values: dict[str, Any] | None
    interrupts: dict[str, list[InterruptOut]]
    config: dict[str, Any]


class ThreadTaskOut(BaseModel):
    id: str
    name: str
    error: str | None
    interrupts: list[InterruptOut]
    checkpoint: CheckpointOut | None
    state: None
    result: Any


class ThreadStateOut(BaseModel):
    values: dict[str, Any]
    next: list[str]
    tasks: list[ThreadTaskOut]
    checkpoint: CheckpointOut | None
    parent_checkpoint: CheckpointOut | None
    metadata: dict[str, Any] | None
    created_at: str | None
    interrupts: list[InterruptOut]


class RunOut(BaseModel):
    run_id: str
    thread_id: str
    assistant_id: str
    created_at: datetime
    updated_at: datetime
    status: RunStatus
    metadata: dict[str, Any]
    kwargs: dict[str, Any]
    multitask_strategy: str
