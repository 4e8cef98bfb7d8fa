"""`/ws/chat/{thread_id}`: many turns on one socket, same event vocabulary as the SSE stream.

Client frames: `{"type": "message", "text", "script"?, "mocks"?}`, `{"type": "resume", "value"}`
(the answer to a pending interrupt), `{"type": "cancel"}`. Server frames: `{"event", "data"}`.

The socket keeps reading while a turn runs, so `cancel` works mid-stream, a second `message` gets a
`thread_busy` error instead of interleaving, and a closed socket cancels the model call. A bad frame
(malformed JSON, unknown type, too large, a message over the length limit) gets an `error` frame
with a clear code; the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from graphs.agent import ThreadBusy
from graphs.server._turns import ServerState, encode, open_turn, server_state
from graphs.server.errors import is_utf8
from graphs.server.sse import THREAD_ID_PATTERN

__all__ = ["BAD_THREAD_ID_REASON", "router"]

BAD_THREAD_ID_REASON = "bad thread id"

router = APIRouter()

_THREAD_ID = re.compile(THREAD_ID_PATTERN)


def _error(code: str, message: str, *, retryable: bool = False) -> str:
    return encode({"event": "error", "data": {"code": code, "message": message, "retryable": retryable}})


class _Session:
    def __init__(self, ws: WebSocket, state: ServerState, thread_id: str) -> None:
        self.ws, self.state, self.thread_id = ws, state, thread_id
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
                raw = message.get("text")
                if raw is None:
                    raw_bytes = message.get("bytes") or b""
                    raw = raw_bytes.decode("utf-8", errors="replace")
                await self.handle(raw)
        except WebSocketDisconnect:
            return
        finally:
            await self.cancel_turn()

    async def handle(self, raw: str) -> None:
        limit = self.state.limits.max_body_bytes
        if len(raw.encode()) > limit:
            await self.send(_error("frame_too_large", f"the frame has more than {limit} bytes (serve.max_body_bytes)"))
            return
        try:
            frame = json.loads(raw)
        except ValueError as exc:
            await self.send(_error("bad_json", f"the frame is not valid JSON: {exc}"))
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "cancel":
            if not await self.cancel_turn():
                await self.send(_error("no_turn", "there is no running turn to cancel"))
            return
        if kind in ("message", "resume"):
            await self.start_turn(frame, kind)
            return
        await self.send(
            _error(
                "unknown_frame",
                f"unknown frame type {kind!r}; send "
                '{"type": "message", "text": ...}, '
                '{"type": "resume", "value": ...} or {"type": "cancel"}',
            )
        )

    async def start_turn(self, frame: dict[str, Any], kind: str) -> None:
        if kind == "message":
            text = frame.get("text")
            if not isinstance(text, str) or not text:
                await self.send(_error("bad_frame", "a `message` frame needs a non-empty string `text`"))
                return
        else:
            if "value" not in frame:
                await self.send(_error("bad_frame", "a `resume` frame needs a `value`"))
                return
            value = frame["value"]
            text = value if isinstance(value, str) else encode(value)
        if not is_utf8(text):
            await self.send(_error("bad_frame", "the text is not valid UTF-8 (a lone surrogate such as \\ud800?)"))
            return
        if problem := self.state.limits.message_error(text):
            await self.send(_error("message_too_long", problem))
            return
        script, mocks = frame.get("script"), frame.get("mocks")
        if (script is not None or mocks is not None) and not self.state.test_mode:
            await self.send(_error("forbidden", "`script` and `mocks` are accepted only in test mode"))
            return
        if self.task is not None and not self.task.done():
            await self.send(
                _error(
                    "thread_busy",
                    'a turn is already running on this socket; wait for `end` or send {"type": "cancel"}',
                    retryable=True,
                )
            )
            return
        agent = self.state.agent
        if agent is None:
            await self.send(_error("not_ready", "the agent is still starting", retryable=True))
            return
        try:
            turn = await open_turn(agent, text, thread_id=self.thread_id, script=script, mocks=mocks)
        except ThreadBusy:
            await self.send(
                _error("thread_busy", f"a turn is already running on thread {self.thread_id!r}", retryable=True)
            )
            return
        self.task = asyncio.create_task(self._relay(turn))

    async def _relay(self, turn: Any) -> None:
        try:
            async for event in turn.events():
                await self.send(encode(event.as_dict()))
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
            await self.send(
                _error("cancelled", "the turn was cancelled; the thread is as it was before it", retryable=True)
            )
        return True


@router.websocket("/ws/chat/{thread_id}")
async def ws_chat(ws: WebSocket, thread_id: str) -> None:
    """Chat over a WebSocket; the thread id is in the path (any new id starts a thread).

    A malformed thread id gets a `bad_thread_id` error frame, then a close with code 1008 and reason
    `bad thread id` (an auth failure closes with 1008 too; its reason mentions the api key).
    """
    await ws.accept()
    if not _THREAD_ID.match(thread_id):
        await ws.send_text(_error("bad_thread_id", "the thread id must match " + THREAD_ID_PATTERN))
        await ws.close(code=1008, reason=BAD_THREAD_ID_REASON)
        return
    await _Session(ws, server_state(ws), thread_id).serve()
