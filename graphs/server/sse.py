"""`POST /chat/stream`: one turn as Server-Sent Events (FastAPI's native `EventSourceResponse`).

Each SSE event is named after the vocabulary (`metadata`, `node`, `token`, `tool`, `interrupt`,
`state`, `error`, `end`) and its `data` is one JSON object. The thread is reserved before the
response starts, so a busy thread is a plain `409`. A client that disconnects cancels the producer
task, which cancels the model call and restores the thread (see `Agent.turn`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.sse import EventSourceResponse
from pydantic import BaseModel, ConfigDict, Field

from graphs.server._turns import OpenTurn, check_fixtures, encode, open_turn_http, server_state

__all__ = ["ChatStreamRequest", "router"]

router = APIRouter(tags=["chat"])

THREAD_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"


class ChatStreamRequest(BaseModel):
    """One user message; a missing `thread_id` starts a new thread."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, description="What the user says (or the answer to a pending interrupt).")
    thread_id: str | None = Field(
        default=None,
        pattern=THREAD_ID_PATTERN,
        description="Continue this thread; a new one is started when absent.",
    )
    script: dict[str, list[Any]] | None = Field(
        default=None, description="Test mode only: scripted-model replies per node id, in order."
    )
    mocks: dict[str, Any] | None = Field(default=None, description="Test mode only: tool name -> result.")


@router.post(
    "/chat/stream",
    response_model=None,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "The turn's events."},
        409: {"description": "A turn is already running on this thread."},
        403: {"description": "`script`/`mocks` sent to a server not in test mode."},
    },
)
async def chat_stream(body: ChatStreamRequest, request: Request) -> EventSourceResponse:
    """Run one turn and stream its events.

    The turn is opened (thread reserved) before the response starts, so a busy thread is a `409`.
    The events are written straight into FastAPI's `EventSourceResponse` rather than through the
    routing layer's generator pipeline: that pipeline adds two task hops and a timer per event, about
    a quarter of the server's CPU per turn in `benchmarks/bench_streaming.py`. Turns are short, so
    the keep-alive comments it would add are not needed.
    """
    state = server_state(request)
    check_fixtures(state, body.script, body.mocks)
    if problem := state.limits.message_error(body.message):
        raise HTTPException(422, problem)
    turn = await open_turn_http(
        state.require_agent(), body.message, thread_id=body.thread_id, script=body.script, mocks=body.mocks
    )
    return EventSourceResponse(_frames(turn))


async def _frames(turn: OpenTurn) -> AsyncIterator[bytes]:
    try:
        async for event in turn.events():
            yield b"event: %s\ndata: %s\n\n" % (event.event.encode(), encode(event.to_data()).encode())
    finally:
        await turn.aclose()
