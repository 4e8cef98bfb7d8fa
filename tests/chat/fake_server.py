"""A stand-in agent server for the failures a real one produces only rarely (run as a script: PORT).

It speaks the server's wire (`GET /ready`, `POST /chat/stream` as SSE, `/ws/chat/{thread_id}`) and
picks its behaviour from the thread id or the message:

- thread `forbidden-*`: SSE answers 403 with a detail; the WebSocket handshake is refused (403);
- thread `reject-new-*` (WebSocket): an `error` frame coded `bad_thread_id`, then close 1008 "bad thread id";
- thread `reject-old-*` (WebSocket): close 1008 "the thread id must match ..." (older servers);
- message `garbled`: a `token` event whose data does not fit the event (a protocol error);
- message `slow`: tokens every 50 ms for half a minute; the thread then answers the next two
  messages with 409 (as a real server does while it frees a thread after a disconnect);
- anything else: one token `ok: MESSAGE` and `end`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

BUSY_AFTER_SLOW = 2
busy: dict[str, int] = {}


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def _metadata(thread: str) -> dict[str, Any]:
    return {"thread_id": thread, "run_id": "run-1", "agent": "fake-agent"}


def _end(reply: str) -> dict[str, Any]:
    return {"reply": reply, "usage": {}, "path": [], "interrupted": False, "first_token_ms": 1.0, "total_ms": 2.0}


async def ready(request: Request) -> Response:
    return JSONResponse({"status": "ready", "agent": "fake-agent"})


async def chat_stream(request: Request) -> Response:
    body = await request.json()
    if not body.get("message"):
        return JSONResponse({"detail": "message is required"}, status_code=422)
    thread, message = str(body.get("thread_id") or "t"), str(body["message"])
    if thread.startswith("forbidden-"):
        return JSONResponse({"detail": "`script` and `mocks` are accepted only in test mode"}, status_code=403)
    if busy.get(thread, 0) > 0:
        busy[thread] -= 1
        return JSONResponse({"detail": f"a turn is already running on thread {thread!r}"}, status_code=409)

    async def events() -> AsyncIterator[str]:
        yield _sse("metadata", _metadata(thread))
        if message == "garbled":
            yield _sse("token", {"txt": "no text field"})
            return  # (a client that did not stop at the bad event would see the stream end early)
        if message == "slow":
            busy[thread] = BUSY_AFTER_SLOW
            for _ in range(600):
                yield _sse("token", {"text": "slow ", "node": "n"})
                await asyncio.sleep(0.05)
        else:
            yield _sse("token", {"text": f"ok: {message}", "node": "n"})
        yield _sse("end", _end(f"ok: {message}"))

    return StreamingResponse(events(), media_type="text/event-stream")


async def ws_chat(ws: WebSocket) -> None:
    thread = ws.path_params["thread_id"]
    if thread.startswith("forbidden-"):
        await ws.close()  # before accept: the handshake is answered 403
        return
    await ws.accept()
    if thread.startswith("reject-new-"):
        await ws.send_text(json.dumps({"event": "error", "data": {
            "code": "bad_thread_id", "message": "the thread id must match ^[A-Za-z0-9_.:\\-]{1,128}$",
            "retryable": False}}))
        await ws.close(code=1008, reason="bad thread id")
        return
    if thread.startswith("reject-old-"):
        await ws.close(code=1008, reason="the thread id must match ^[A-Za-z0-9_.:\\-]{1,128}$")
        return
    while True:
        frame = json.loads(await ws.receive_text())
        if frame.get("type") == "message" and frame["text"] == "garbled":
            await ws.send_text(json.dumps({"event": "metadata", "data": _metadata(thread)}))
            await ws.send_text(json.dumps({"event": "token", "data": {"txt": "no text field"}}))
        elif frame.get("type") == "message":
            reply = f"ok: {frame['text']}"
            await ws.send_text(json.dumps({"event": "metadata", "data": _metadata(thread)}))
            await ws.send_text(json.dumps({"event": "token", "data": {"text": reply, "node": "n"}}))
            await ws.send_text(json.dumps({"event": "end", "data": _end(reply)}))
        else:
            await ws.send_text(json.dumps({"event": "error", "data": {"code": "no_turn", "message": "",
                                                                       "retryable": False}}))


app = Starlette(routes=[Route("/ready", ready), Route("/chat/stream", chat_stream, methods=["POST"]),
                        WebSocketRoute("/ws/chat/{thread_id}", ws_chat)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
