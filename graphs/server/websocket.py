"""`/ws/chat/{thread_id}`: many turns on one socket, same event vocabulary as the SSE stream.

Client frames (JSON text, or UTF-8 JSON in a binary frame): `{"type": "message", "text",
"script"?, "mocks"?}`, `{"type": "resume", "value", "script"?, "mocks"?}` (the answer to a pending
interrupt), `{"type": "cancel"}`; no other keys. Server frames: `{"event", "data"}` (`encode_event`).

The socket keeps reading while a turn runs, so `cancel` works mid-stream, a second `message` gets a
`thread_busy` error instead of interleaving, and a closed socket cancels the model call. A bad frame
gets an `error` frame and the socket stays open: `frame_too_large` (over `serve.max_body_bytes`),
`bad_json`, `unknown_frame` (not an object, or an unknown `type`), `bad_frame` (a missing field, a
wrong type, an extra key, text that is not UTF-8), `message_too_long`. Close codes: 1008 (a bad
thread id, reason `bad thread id`; or no API key), 1009 (a frame over 4x the body limit, closed by
uvicorn), 1011 (an unexpected server error, logged with its request id).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from fastapi import APIRouter, WebSocket
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.websockets import WebSocketDisconnect

from graphs.agent import OpenTurn
from graphs.events import THREAD_ID_RULE, ErrorEvent, Event, valid_thread_id
from graphs.server._errors import ApiError, as_api_error, validation_error
from graphs.server._fields import JsonValue, message_text
from graphs.server._state import ServerState, dumps, server_state
from graphs.server.limits import Limits

__all__ = ["BAD_THREAD_ID_REASON", "CancelFrame", "MessageFrame", "ResumeFrame", "encode_event", "router_for"]

BAD_THREAD_ID_REASON = "bad thread id"
WS_POLICY_VIOLATION = 1008


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class MessageFrame(_Frame):
    type: Literal["message"]
    text: str = Field(description="What the user says.")
    script: dict[str, list[JsonValue]] | None = None
    mocks: dict[str, JsonValue] | None = None


class ResumeFrame(_Frame):
    type: Literal["resume"]
    value: JsonValue = Field(description="The answer to the pending interrupt; a non-string is sent on as JSON.")
    script: dict[str, list[JsonValue]] | None = None
    mocks: dict[str, JsonValue] | None = None


class CancelFrame(_Frame):
    type: Literal["cancel"]


_FRAMES: dict[str, type[_Frame]] = {"message": MessageFrame, "resume": ResumeFrame, "cancel": CancelFrame}


def encode_event(event: Event) -> str:
    """One event as a text frame: `{"event": NAME, "data": {...}}`."""
    return dumps(event.as_dict())


def _frame_error(code: Any, message: str) -> str:
    return encode_event(ErrorEvent.of(code, message))


class _Reader:
    """Raw frames -> typed frames, or the error frame that says what is wrong."""

    def __init__(self, limits: Limits) -> None:
        self.max_bytes = limits.max_body_bytes
        self.text = TypeAdapter(message_text(limits.max_message_chars, description="a user message"))

    def read(self, message: Mapping[str, Any]) -> tuple[_Frame, str] | ApiError:
        """The frame and, for `message`/`resume`, the user's text; or the error to answer."""
        raw = message.get("text")
        if raw is None:
            data = message.get("bytes") or b""
            if len(data) > self.max_bytes:
                return self._too_large()
            try:
                raw = data.decode("utf-8")
            except UnicodeDecodeError:
                return ApiError("bad_frame", "a binary frame must hold UTF-8 JSON text")
        elif len(raw.encode("utf-8", "surrogatepass")) > self.max_bytes:
            return self._too_large()
        try:
            frame = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            return ApiError("bad_json", f"the frame is not valid JSON: {exc}"[:300])
        kind = frame.get("type") if isinstance(frame, dict) else None
        model = _FRAMES.get(kind) if isinstance(kind, str) else None
        if model is None:
            return ApiError("unknown_frame", f"unknown frame type {kind!r}; send "
                            '{"type": "message", "text": ...}, {"type": "resume", "value": ...} or {"type": "cancel"}')
        try:
            typed = model.model_validate(frame)
        except ValidationError as exc:
            return self._invalid(exc.errors())
        if isinstance(typed, CancelFrame):
            return typed, ""
        assert isinstance(typed, MessageFrame | ResumeFrame)
        name, text = ("text", typed.text) if isinstance(typed, MessageFrame) else ("value", typed.value)
        try:
            text = text if isinstance(text, str) else dumps(text)
            self.text.validate_python(text, strict=True)
        except ValidationError as exc:
            return self._invalid([{**error, "loc": (name, *error["loc"])} for error in exc.errors()])
        except (ValueError, RecursionError):  # a value JSON cannot carry back (nested too deeply)
            return ApiError("bad_frame", "`value` must be JSON that nests less deeply", field="value")
        return typed, text

    def _invalid(self, errors: list[Any]) -> ApiError:
        error = validation_error(errors, location="frame")
        return ApiError("message_too_long" if error.code == "message_too_long" else "bad_frame", error.message)

    def _too_large(self) -> ApiError:
        return ApiError("frame_too_large", f"the frame has more than {self.max_bytes} bytes (serve.max_body_bytes)")


class _Session:
    def __init__(self, ws: WebSocket, state: ServerState, reader: _Reader, thread_id: str) -> None:
        self.ws, self.state, self.reader, self.thread_id = ws, state, reader, thread_id
        self.task: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()

    async def send(self, text: str) -> None:
        async with self._send_lock:
            await self.ws.send_text(text)

    async def serve(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                read = self.reader.read(message)
                if isinstance(read, ApiError):
                    await self.send(encode_event(read.event()))
                else:
                    await self.handle(*read)
        except WebSocketDisconnect:
            return
        finally:
            await self.cancel_turn()

    async def handle(self, frame: _Frame, text: str) -> None:
        if isinstance(frame, CancelFrame):
            if not await self.cancel_turn():
                await self.send(_frame_error("no_turn", "there is no running turn to cancel"))
            return
        assert isinstance(frame, MessageFrame | ResumeFrame)
        if self.task is not None and not self.task.done():
            await self.send(_frame_error(
                "thread_busy", 'a turn is already running on this socket; wait for `end` or send {"type": "cancel"}'))
            return
        try:
            self.state.check_fixtures(frame.script, frame.mocks)
            turn = await self.state.require_agent().open_turn(
                text, thread_id=self.thread_id, script=frame.script, mocks=frame.mocks
            )
        except Exception as exc:  # a refused turn (busy, not ready, test mode) is an error frame
            error = as_api_error(exc)
            if error.code == "internal_error":
                raise
            await self.send(encode_event(error.event()))
            return
        self.task = asyncio.create_task(self._relay(turn))

    async def _relay(self, turn: OpenTurn) -> None:
        try:
            async for event in turn.events():
                await self.send(encode_event(event))
        except (WebSocketDisconnect, RuntimeError):
            return  # the socket closed under us; `serve` cancels and the agent restores the thread
        finally:
            await turn.aclose()

    async def cancel_turn(self) -> bool:
        task, self.task = self.task, None
        if task is None or task.done():
            return False
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(Exception):
            await self.send(_frame_error("cancelled", "the turn was cancelled; the thread is as it was before it"))
        return True


def router_for(limits: Limits) -> APIRouter:
    """The WebSocket route, reading frames within this server's limits."""
    router = APIRouter()
    reader = _Reader(limits)

    @router.websocket("/ws/chat/{thread_id}")
    async def ws_chat(ws: WebSocket, thread_id: str) -> None:
        """Chat over a WebSocket; the thread id is in the path (any new id starts a thread).

        A malformed thread id gets a `bad_thread_id` error frame, then a close with code 1008 and
        reason `bad thread id` (an auth failure closes with 1008 too; its reason mentions the api key).
        """
        await ws.accept()
        if not valid_thread_id(thread_id):
            await ws.send_text(_frame_error("bad_thread_id", f"the thread id must be {THREAD_ID_RULE}"))
            await ws.close(code=WS_POLICY_VIOLATION, reason=BAD_THREAD_ID_REASON)
            return
        await _Session(ws, server_state(ws), reader, thread_id).serve()

    return router
