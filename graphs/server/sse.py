"""`POST /chat/stream`: one turn as Server-Sent Events (FastAPI's native `EventSourceResponse`).

Each SSE event is named after the vocabulary (`metadata`, `node`, `token`, `tool`, `interrupt`,
`state`, `error`, `end`) and its `data` is one JSON object. The thread is reserved before the
response starts, so a busy thread is a plain `409`. A client that disconnects cancels the producer
task, which cancels the model call and restores the thread (see `Agent.turn`).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field

from graphs.server._turns import OpenTurn, check_fixtures, encode, open_turn_http, server_state

__all__ = ["ChatStreamRequest", "router"]

router = APIRouter(tags=["chat"])

THREAD_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"


class ChatStreamRequest(BaseModel):
    """One user message; a missing `thread_id` starts a new thread."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        min_length=1, description="What the user says (or the answer to a pending interrupt)."
    )
    thread_id: str | None = Field(
        default=None,
        pattern=THREAD_ID_PATTERN,
        description="Continue this thread; a new one is started when absent.",
    )
    script: dict[str, list[Any]] | None = Field(
        default=None, description="Test mode only: scripted-model replies per node id, in order."
    )
    mocks: dict[str, Any] | None = Field(default=None, description="Test mode only: tool name -> result.")


async def opened_turn(request: Request, body: ChatStreamRequest) -> AsyncIterator[OpenTurn]:
    """Validate, then reserve the thread before the response starts (409 when busy)."""
    state = server_state(request)
    check_fixtures(state, body.script, body.mocks)
    if problem := state.limits.message_error(body.message):
        raise HTTPException(422, problem)
    turn = await open_turn_http(
        state.require_agent(), body.message, thread_id=body.thread_id, script=body.script, mocks=body.mocks
    )
    try:
        yield turn
    finally:
        await turn.aclose()


@router.post(
    "/chat/stream",
    response_class=EventSourceResponse,
    responses={
        409: {"description": "A turn is already running on this thread."},
        403: {"description": "`script`/`mocks` sent to a server not in test mode."},
    },
)
async def chat_stream(turn: Annotated[OpenTurn, Depends(opened_turn)]) -> AsyncIterable[ServerSentEvent]:
    """Run one turn and stream its events."""
    make = ServerSentEvent.model_construct  # our event names are single-line constants: skip validation
    async for event in turn.events():
        yield make(raw_data=encode(event.data), event=event.event)
