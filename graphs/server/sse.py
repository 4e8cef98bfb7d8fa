"""`POST /chat/stream`: one turn as Server-Sent Events (FastAPI's native `EventSourceResponse`).

Each SSE event is named after the vocabulary (`metadata`, `node`, `token`, `tool`, `interrupt`,
`state`, `error`, `end`) and its `data` is one JSON object (`encode_event`). The thread is held
before the response starts, so a busy thread is a plain `409`. A client that disconnects cancels
the producer task, which cancels the model call and restores the thread (see `Agent.turn`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Body, Request
from fastapi.sse import EventSourceResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from graphs.agent import OpenTurn
from graphs.events import THREAD_ID_PATTERN, Event, StateEvent
from graphs.server._fields import JsonValue, ThreadId, message_text
from graphs.server._openapi import EventStreamDocs, errors_documented, event_stream, with_parameters
from graphs.server._state import dumps, server_state
from graphs.server.limits import Limits

__all__ = ["THREAD_ID_PATTERN", "ChatStreamRequest", "encode_event", "router_for"]


class ChatStreamRequest(BaseModel):
    """One user message; a missing `thread_id` starts a new thread."""

    model_config = ConfigDict(extra="forbid", strict=True)

    message: str = Field(description="What the user says (or the answer to a pending interrupt).")
    thread_id: ThreadId | None = Field(default=None, description="Continue this thread; a new one when absent.")
    script: dict[str, list[JsonValue]] | None = Field(
        default=None, description="Test mode only: scripted-model replies per node id, in order."
    )
    mocks: dict[str, JsonValue] | None = Field(default=None, description="Test mode only: tool name -> result.")
    message_id: str | None = Field(
        default=None, min_length=1, max_length=128,
        description="An id for the user's message. Sending the thread's last message again with its id (a retry "
                    "after a broken stream) answers the saved turn instead of running it twice.")


def encode_event(event: Event) -> bytes:
    """One event as an SSE block: `event: NAME` and its data as one line of JSON."""
    return b"event: %s\ndata: %s\n\n" % (event.event.encode(), dumps(event.to_data()).encode())


def event_data_schemas() -> dict[str, dict[str, Any] | None]:
    """Each event's name -> the JSON Schema of its `data` (from the event classes themselves)."""
    schemas: dict[str, dict[str, Any] | None] = {}
    for kind in get_args(Event):
        if kind is StateEvent:
            schema: dict[str, Any] = {"type": "object", "description": "The slots after the turn."}
        else:
            schema = TypeAdapter(kind).json_schema(mode="serialization")
            schema["properties"].pop("event")
            schema["additionalProperties"] = False
        schemas[kind.__dataclass_fields__["event"].default] = schema
    return schemas


def router_for(limits: Limits) -> APIRouter:
    """The route, with the message length of this server in its schema."""
    router = APIRouter(tags=["chat"])
    body_model = create_model(
        "ChatStreamRequest",
        __base__=ChatStreamRequest,
        message=(message_text(limits.max_message_chars,
                              description="What the user says (or the answer to a pending interrupt)."), ...),
    )

    async def chat_stream(body: ChatStreamRequest, request: Request) -> EventSourceResponse:
        """Run one turn and stream its events.

        The turn is opened (thread held) before the response starts, so a busy thread is a `409`.
        The events are written straight into FastAPI's `EventSourceResponse` rather than through the
        routing layer's generator pipeline: that pipeline adds two task hops and a timer per event,
        about a quarter of the server's CPU per turn in `benchmarks/bench_streaming.py`. Turns are
        short, so the keep-alive comments it would add are not needed.
        """
        state = server_state(request)
        state.check_fixtures(body.script, body.mocks)
        turn = await state.require_agent().open_turn(
            body.message, thread_id=body.thread_id, script=body.script, mocks=body.mocks, message_id=body.message_id
        )
        return EventSourceResponse(_frames(turn))

    router.add_api_route(
        "/chat/stream",
        with_parameters(chat_stream, body=Annotated[body_model, Body()], request=Request),
        methods=["POST"],
        response_class=EventStreamDocs,
        responses={
            200: event_stream(event_data_schemas(),
                              description="The turn's events, `metadata` first and `end` (or `error`) last."),
            **errors_documented("forbidden", "thread_busy", "invalid_request", "bad_thread_id", "message_too_long",
                                "not_ready"),
        },
    )
    return router


async def _frames(turn: OpenTurn) -> AsyncIterator[bytes]:
    """The turn's SSE blocks; the events ready together (a burst of tokens) in one write."""
    try:
        async for batch in turn.batches():
            yield b"".join([encode_event(event) for event in batch])
    finally:
        await turn.aclose()
