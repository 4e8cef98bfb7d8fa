"""`POST /v1/chat/completions` (streaming and not) and `GET /v1/models`: the agent for OpenAI clients.

`model` is the spec's name. Only the last `user` message is sent to the agent: the conversation
lives in the thread, not in the request. The thread comes from the `X-Thread-Id` header, else the
`user` field, else a new thread; the answer carries it back in the `X-Thread-Id` header (and a
`thread_id` field on the completion / first chunk).
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic import BaseModel, ConfigDict, Field

from graphs.events import EndEvent, ErrorEvent, TokenEvent
from graphs.server._turns import OpenTurn, encode, open_turn_http, server_state
from graphs.server.errors import is_utf8, openai_error
from graphs.server.sse import THREAD_ID_PATTERN

__all__ = ["CompletionRequest", "router"]

router = APIRouter(tags=["openai"])

_STATUS_BY_CODE = {
    "model_rate_limited": 429,
    "model_timeout": 504,
    "timeout": 504,
    "model_unreachable": 502,
    "model_error": 502,
}


_THREAD_ID = re.compile(THREAD_ID_PATTERN)


class StreamOptions(BaseModel):
    """OpenAI's `stream_options`; only `include_usage` matters here."""

    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class CompletionRequest(BaseModel):
    """The subset of OpenAI's request the agent uses; other fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(default=None, description="Used as the thread id when no X-Thread-Id header is sent.")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


_openai_error = openai_error


@router.get("/v1/models")
async def list_models(request: Request) -> dict[str, Any]:
    name = server_state(request).plan["name"]
    return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "factory"}]}


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(body: CompletionRequest, request: Request) -> Response:
    """Run one turn with the last user message; stream chunks when `stream` is true."""
    state = server_state(request)
    name = state.plan["name"]
    if body.model != name:
        return _openai_error(
            404,
            f"the model {body.model!r} does not exist here; this server serves {name!r}",
            "model_not_found",
        )
    users = [m for m in body.messages if m.get("role") == "user"]
    if not users or not _text(users[-1].get("content")):
        return _openai_error(422, "the request needs a user message with text", "no_user_message")
    message = _text(users[-1].get("content"))
    if not is_utf8(message):
        return _openai_error(422, "the user message is not valid UTF-8 text (a lone surrogate?)", "bad_text")
    if problem := state.limits.message_error(message):
        return _openai_error(422, problem, "message_too_long")
    thread = request.headers.get("x-thread-id") or body.user
    if thread is not None and not _THREAD_ID.match(thread):
        header = request.headers.get("x-thread-id") is not None
        source = "the X-Thread-Id header" if header else "`user`"
        return _openai_error(
            422,
            f"{source} is used as the thread id and must match {THREAD_ID_PATTERN}",
            "bad_thread_id",
            param=None if header else "user",
        )
    try:
        turn = await open_turn_http(state.require_agent(), message, thread_id=thread)
    except HTTPException as exc:
        if exc.status_code == 409:
            return _openai_error(409, str(exc.detail), "thread_busy", "conflict")
        raise
    headers = {"X-Thread-Id": turn.thread_id}
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return EventSourceResponse(_chunks(turn, name, include_usage), headers=headers)
    return await _whole(turn, name, headers)


async def _whole(turn: OpenTurn, name: str, headers: dict[str, str]) -> Response:
    end: EndEvent | None = None
    try:
        async for event in turn.rest:
            if isinstance(event, ErrorEvent):
                return _openai_error(
                    _STATUS_BY_CODE.get(event.code, 500), event.message, event.code, "server_error"
                )
            if isinstance(event, EndEvent):
                end = event
    finally:
        await turn.aclose()
    assert end is not None, "a turn without error ends with `end`"
    usage = end.usage
    run_id = turn.metadata.run_id
    completion = {
        "id": f"chatcmpl-{run_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": name,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": end.reply},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": usage.get("input_tokens", 0),
            "completion_tokens": usage.get("output_tokens", 0),
            "total_tokens": usage.get("total_tokens", 0),
        },
        "thread_id": turn.thread_id,
    }
    return JSONResponse(completion, headers=headers)


async def _chunks(turn: OpenTurn, name: str, include_usage: bool) -> AsyncIterator[bytes]:
    run_id, created = turn.metadata.run_id, int(time.time())
    base = {"id": f"chatcmpl-{run_id}", "object": "chat.completion.chunk", "created": created, "model": name}

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        payload = {
            **base,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }
        return format_sse_event(data_str=encode(payload))

    try:
        yield chunk({"role": "assistant", "content": ""}, thread_id=turn.thread_id)
        async for event in turn.rest:
            if isinstance(event, TokenEvent):
                yield chunk({"content": event.text})
            elif isinstance(event, ErrorEvent):
                error = {
                    "error": {
                        "message": event.message,
                        "type": "server_error",
                        "code": event.code,
                        "retryable": event.retryable,
                    }
                }
                yield format_sse_event(data_str=encode(error))
                return
            elif isinstance(event, EndEvent):
                yield chunk({}, "stop")
                if include_usage:
                    usage = event.usage
                    payload = {
                        **base,
                        "choices": [],
                        "usage": {
                            "prompt_tokens": usage.get("input_tokens", 0),
                            "completion_tokens": usage.get("output_tokens", 0),
                            "total_tokens": usage.get("total_tokens", 0),
                        },
                    }
                    yield format_sse_event(data_str=encode(payload))
        yield format_sse_event(data_str="[DONE]")
    finally:
        await turn.aclose()
