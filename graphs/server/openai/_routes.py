"""The `/v1/` routes and OpenAI's error shape for them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import JSONResponse, Response
from fastapi.sse import EventSourceResponse
from pydantic import Field, create_model

from graphs.agent import OpenTurn
from graphs.events import EndEvent, ErrorEvent
from graphs.server._errors import ApiError, ErrorFamily
from graphs.server._fields import ThreadId
from graphs.server._openapi import TURN_FAILURES, errors_documented, event_stream, with_parameters
from graphs.server._state import server_state
from graphs.server.openai._encoder import ChunkEncoder, completion
from graphs.server.openai._schemas import ChatCompletion, CompletionRequest, ModelList, OpenAIErrorBody

__all__ = ["OPENAI_ERRORS", "router_for"]

_TYPES = {401: "authentication_error", 403: "permission_error", 409: "conflict", 429: "rate_limit_error"}


def _openai_body(error: ApiError, request_id: str | None) -> dict[str, Any]:
    kind = _TYPES.get(error.status, "server_error" if error.status >= 500 else "invalid_request_error")
    return {"error": {"message": error.message, "type": kind, "code": error.code, "param": error.field}}


OPENAI_ERRORS = ErrorFamily("/v1/", _openai_body, OpenAIErrorBody)
"""Errors under `/v1/` in OpenAI's shape, so OpenAI SDKs raise the matching exception with our message."""

def router_for(name: str) -> APIRouter:
    """`/v1/models` and `/v1/chat/completions`; `model` is `name` (the schema says so; another is a 404)."""
    router = APIRouter(tags=["openai"])
    request_model = create_model(
        "CompletionRequest", __base__=CompletionRequest,
        model=(str, Field(description="The agent's name (see `GET /v1/models`).", json_schema_extra={"enum": [name]})),
    )

    @router.get("/v1/models", response_model=ModelList)
    async def list_models() -> dict[str, Any]:
        """The one model this server has: the agent."""
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "factory"}]}

    router.add_api_route(
        "/v1/chat/completions",
        with_parameters(chat_completions, body=Annotated[request_model, Body()], request=Request,
                        x_thread_id=(Annotated[ThreadId | None, Header(alias="X-Thread-Id")], None)),
        methods=["POST"],
        response_model=None,
        responses={
            200: {
                "description": "The answer: one `chat.completion`, or (`stream: true`) `chat.completion.chunk` "
                               "events.",
                "model": ChatCompletion,
                "content": event_stream({"message": None}, description="")["content"],
            },
            **errors_documented("not_found", "thread_busy", "invalid_request", "bad_thread_id", "message_too_long",
                                "not_ready", *TURN_FAILURES),
        },
    )
    return router


async def chat_completions(body: CompletionRequest, request: Request, x_thread_id: str | None = None) -> Response:
    """Run one turn with the last user message; stream chunks when `stream` is true."""
    state = server_state(request)
    if body.model != state.name:
        raise ApiError("not_found", f"the model {body.model!r} does not exist here; this server serves "
                                    f"{state.name!r}", field="model")
    message = [m for m in body.messages if m.role == "user"][-1].text()  # the schema makes sure there is one
    if len(message) > state.limits.max_message_chars:
        raise ApiError("message_too_long", f"the last user message has {len(message)} characters; the limit is "
                                           f"{state.limits.max_message_chars} (serve.max_message_chars)",
                       field="messages")
    turn = await state.require_agent().open_turn(message, thread_id=x_thread_id or body.user)
    headers = {"X-Thread-Id": turn.thread_id}
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        encoder = ChunkEncoder(turn.metadata, state.name, include_usage=include_usage)
        return EventSourceResponse(_chunks(turn, encoder), headers=headers)
    return JSONResponse(await _whole(turn, state.name), headers=headers)


async def _whole(turn: OpenTurn, name: str) -> dict[str, Any]:
    end: EndEvent | None = None
    try:
        async for event in turn.rest:  # to the last event: a turn closed before its end is undone
            if isinstance(event, ErrorEvent):
                raise ApiError(event.code, event.message)
            if isinstance(event, EndEvent):
                end = event
    finally:
        await turn.aclose()
    assert end is not None, "a turn without an error ends with `end`"
    return completion(turn.metadata, end, name)


async def _chunks(turn: OpenTurn, encoder: ChunkEncoder) -> Any:
    try:
        yield encoder.start()
        async for event in turn.rest:
            for block in encoder.encode(event):
                yield block
    finally:
        await turn.aclose()
