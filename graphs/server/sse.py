"""`POST /chat/stream`: one turn as Server-Sent Events (FastAPI's native `EventSourceResponse`).

Each SSE event is named after the vocabulary (`metadata`, `node`, `token`, `tool`, `interrupt`,
`state`, `error`, `end`) and its `data` is one JSON object (`encode_event`). The thread is held
before the response starts, so a busy thread is a plain `409`. A client that disconnects cancels
the producer task, which cancels the model call and restores the thread (see `Agent.turn`).

No `from __future__ import annotations` here: the route's body model is built per server (the
message limit is in its schema), and FastAPI reads the endpoint's annotations as live objects.
"""

from collections.abc import AsyncIterator
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.sse import EventSourceResponse
from pydantic import BaseModel, ConfigDict, Field, create_model

from graphs.agent import OpenTurn
from graphs.events import THREAD_ID_PATTERN, Event
from graphs.server._fields import ThreadId, message_text
from graphs.server._openapi import EventStreamDocs, errors_documented
from graphs.server._state import dumps, server_state
from graphs.server.limits import Limits

__all__ = ["THREAD_ID_PATTERN", "ChatStreamRequest", "encode_event", "router_for"]


class ChatStreamRequest(BaseModel):
    """One user message; a missing `thread_id` starts a new thread."""

    model_config = ConfigDict(extra="forbid", strict=True)

    message: str = Field(description="What the user says (or the answer to a pending interrupt).")
    thread_id: ThreadId | None = Field(default=None, description="Continue this thread; a new one when absent.")
    script: dict[str, list[Any]] | None = Field(
        default=None, description="Test mode only: scripted-model replies per node id, in order."
    )
    mocks: dict[str, Any] | None = Field(default=None, description="Test mode only: tool name -> result.")


def encode_event(event: Event) -> bytes:
    """One event as an SSE block: `event: NAME` and its data as one line of JSON."""
    return b"event: %s\ndata: %s\n\n" % (event.event.encode(), dumps(event.to_data()).encode())


def router_for(limits: Limits) -> APIRouter:
    """The route, with the message length of this server in its schema."""
    router = APIRouter(tags=["chat"])
    body_model = create_model(
        "ChatStreamRequest",
        __base__=ChatStreamRequest,
        message=(message_text(limits.max_message_chars,
                              description="What the user says (or the answer to a pending interrupt)."), ...),
    )

    @router.post(
        "/chat/stream",
        response_class=EventStreamDocs,
        responses={
            200: {"description": "The turn's events, `metadata` first and `end` (or `error`) last."},
            **errors_documented("forbidden", "thread_busy", "invalid_request", "bad_thread_id", "message_too_long",
                                "not_ready"),
        },
    )
    async def chat_stream(body: body_model, request: Request) -> EventSourceResponse:  # type: ignore[valid-type]
        """Run one turn and stream its events.

        The turn is opened (thread held) before the response starts, so a busy thread is a `409`.
        The events are written straight into FastAPI's `EventSourceResponse` rather than through the
        routing layer's generator pipeline: that pipeline adds two task hops and a timer per event,
        about a quarter of the server's CPU per turn in `benchmarks/bench_streaming.py`. Turns are
        short, so the keep-alive comments it would add are not needed.
        """
        state, given = server_state(request), cast(ChatStreamRequest, body)
        state.check_fixtures(given.script, given.mocks)
        turn = await state.require_agent().open_turn(
            given.message, thread_id=given.thread_id, script=given.script, mocks=given.mocks
        )
        return EventSourceResponse(_frames(turn))

    return router


async def _frames(turn: OpenTurn) -> AsyncIterator[bytes]:
    try:
        async for event in turn.events():
            yield encode_event(event)
    finally:
        await turn.aclose()
