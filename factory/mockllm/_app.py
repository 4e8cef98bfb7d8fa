"""The HTTP side of mock-llm: a Starlette app speaking the OpenAI chat-completions protocol.

Responses are small hand-written ASGI callables rather than `StreamingResponse`, because the
faults we inject need control that the stock responses hide: noticing the client leave between
tokens (to record it), and ending a response without its last chunk (uvicorn then closes the
socket, which is what a crashed model server looks like to the client).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import _wire
from ._record import RecordedRequest, Recorder
from ._script import Reply, Script, ScriptError, load_script
from ._select import ScriptState

__all__ = ["MockState", "create_app"]

_log = logging.getLogger("factory.mockllm")
_SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
                (b"x-accel-buffering", b"no")]


@dataclass
class MockState:
    """Everything the routes share: the live script, the record, and a stop flag for hung replies."""

    script: ScriptState
    recorder: Recorder = field(default_factory=Recorder)
    closing: threading.Event = field(default_factory=threading.Event)


def create_app(script: Script | dict[str, Any] | str | None = None, *, recorder: Recorder | None = None,
               state: MockState | None = None) -> Starlette:
    """A fresh app; `app.state.mock` is its `MockState` (pass `state` to share one)."""
    mock = state or MockState(ScriptState(load_script(script)), recorder or Recorder())
    app = Starlette(routes=[
        Route("/v1/chat/completions", _chat, methods=["POST"]),
        Route("/v1/models", _models, methods=["GET"]),
        Route("/_mock/requests", _requests, methods=["GET"]),
        Route("/_mock/reset", _reset, methods=["POST"]),
        Route("/_mock/script", _set_script, methods=["POST", "PUT"]),
    ])
    app.state.mock = mock
    return app


def _bad_request(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse(_wire.error_body(status, message), status_code=status)


async def _chat(request: Request) -> Response:
    mock: MockState = request.app.state.mock
    raw = await request.body()
    try:
        body: Any = json.loads(raw)
    except ValueError as exc:
        record = mock.recorder.new_request(request.url.path, raw.decode("utf-8", errors="replace"))
        return _reject(mock, record, f"mock-llm: the request body is not valid JSON: {exc}")
    record = mock.recorder.new_request(request.url.path, body)
    if not isinstance(body, dict):
        return _reject(mock, record, "mock-llm: the request body must be a JSON object")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return _reject(mock, record, "mock-llm: 'messages' must be a non-empty list")
    window = mock.script.script.context_window
    if window is not None and (used := mock.script.script.prompt_tokens(body)) > window:
        record.status = 400
        message = (f"This model's maximum context length is {window} tokens. However, your messages "
                   f"resulted in {used} tokens. Please reduce the length of the messages.")
        mock.recorder.finish(record, "failed", message)
        return JSONResponse(_wire.error_body(400, message, "context_length_exceeded"), 400)
    reply, record.rule = mock.script.pick(body)
    record.stream = bool(body.get("stream"))
    fail = reply.fail
    if fail is not None and fail.status is not None:
        record.status = fail.status
        mock.recorder.finish(record, "failed", fail.message)
        headers = {}
        if fail.status == 429:
            headers = {"retry-after": str(math.ceil(fail.retry_after_s)),
                       "retry-after-ms": str(int(fail.retry_after_s * 1000))}
        return JSONResponse(_wire.error_body(fail.status, fail.message), fail.status, headers=headers)
    return _Exchange(mock, record, reply, body)


def _reject(mock: MockState, record: RecordedRequest, message: str) -> JSONResponse:
    record.status = 400
    mock.recorder.finish(record, "error", message)
    return _bad_request(message)


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class _Exchange(Response):
    """One scripted answer: hang, stream or send whole, noticing if the client goes away."""

    def __init__(self, mock: MockState, record: RecordedRequest, reply: Reply, body: dict[str, Any]) -> None:
        self.mock, self.record, self.reply, self.payload = mock, record, reply, body
        self.model = str(body.get("model") or "mock")
        self.cid = f"chatcmpl-mock-{record.id}"
        self.created = int(time.time())
        self._watch: asyncio.Future[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._watch = asyncio.ensure_future(_until_disconnect(receive))
        try:
            fail = self.reply.fail
            if fail is not None and fail.hang:
                await self._hang()
            elif self.record.stream:
                await self._stream(send)
            else:
                await self._whole(send)
        except asyncio.CancelledError:
            self._end("stopped", "cancelled (server stopping)")
            raise
        finally:
            self._watch.cancel()

    def _end(self, outcome: str, detail: str = "") -> None:
        if outcome == "cut":  # explains uvicorn's "returned without completing response" error line
            _log.warning("mock-llm: request %d: %s", self.record.id, detail)
        if self.record.outcome == "pending":
            self.mock.recorder.finish(self.record, outcome, detail)

    def _gone(self) -> bool:
        return self._watch is not None and self._watch.done()

    async def _pause(self, seconds: float) -> bool:
        """Wait (or just let the loop run); False when the client has disconnected meanwhile."""
        assert self._watch is not None
        if seconds > 0:
            await asyncio.wait({self._watch}, timeout=seconds)
        else:
            await asyncio.sleep(0)
        if self._gone():
            self._end("disconnected", f"client left after {self.record.tokens_sent} tokens")
            return False
        return True

    async def _hang(self) -> None:
        self.mock.recorder.event("hang", self.record)
        while not self.mock.closing.is_set():
            if not await self._pause(0.05):
                return
        self._end("stopped", "server stopped while hanging")

    async def _stream(self, send: Send) -> None:
        fail, reply = self.reply.fail, self.reply
        cut = fail.cut_after_tokens if fail is not None else None
        options = self.payload.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        self.record.status = 200
        deltas = _wire.deltas(reply, self.record.id)
        for index, delta in enumerate(deltas):
            if cut is not None and index >= cut:
                break
            delay = reply.first_token_delay_ms if index == 0 else reply.token_delay_ms
            if not await self._pause(delay / 1000):
                return
            self.record.tokens_sent += 1  # record before sending: a test may look as soon as it reads
            await send(self._event(_wire.chunk(self.cid, self.model, self.created, delta,
                                               with_usage_field=include_usage)))
        if cut is not None:
            self._end("cut", f"connection closed after {self.record.tokens_sent} tokens (scripted)")
            return  # uvicorn closes the socket: the response never completes
        finish = _wire.chunk(self.cid, self.model, self.created, {}, _wire.finish_reason(reply),
                             with_usage_field=include_usage)
        await send(self._event(finish))
        if include_usage:
            usage = _wire.chunk(self.cid, self.model, self.created, None)
            usage["usage"] = _wire.usage(self.payload, len(deltas))
            await send(self._event(usage))
        self._end("completed")
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    async def _whole(self, send: Send) -> None:
        reply = self.reply
        n_tokens = len(_wire.deltas(reply, self.record.id))
        delay_ms = reply.first_token_delay_ms + reply.token_delay_ms * max(n_tokens - 1, 0)
        if not await self._pause(delay_ms / 1000):
            return
        payload = json.dumps(_wire.completion(self.cid, self.model, self.created, reply, self.record.id,
                                              self.payload)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        self.record.status = 200
        if reply.fail is not None and reply.fail.cut_after_tokens is not None:
            half = payload[: len(payload) // 2]
            await send({"type": "http.response.body", "body": half, "more_body": True})
            self._end("cut", "connection closed mid-body (scripted)")
            return
        self.record.tokens_sent = n_tokens
        self._end("completed")
        await send({"type": "http.response.body", "body": payload, "more_body": False})

    @staticmethod
    def _event(data: dict[str, Any]) -> dict[str, Any]:
        line = b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"
        return {"type": "http.response.body", "body": line, "more_body": True}


async def _models(request: Request) -> JSONResponse:
    mock: MockState = request.app.state.mock
    models = [{"id": m, "object": "model", "created": 0, "owned_by": "mock-llm"}
              for m in mock.script.script.models]
    return JSONResponse({"object": "list", "data": models})


async def _requests(request: Request) -> JSONResponse:
    return JSONResponse(request.app.state.mock.recorder.snapshot())


async def _reset(request: Request) -> JSONResponse:
    """Forget recorded requests and rewind the queue and `times` counters."""
    mock: MockState = request.app.state.mock
    mock.recorder.clear()
    mock.script.reset()
    return JSONResponse({"ok": True})


async def _set_script(request: Request) -> JSONResponse:
    """Replace the script live (JSON body), for users driving the CLI server from another process."""
    try:
        data = json.loads(await request.body())
    except ValueError as exc:
        return _bad_request(f"mock-llm: the request body is not valid JSON: {exc}")
    if not isinstance(data, dict | list):  # never a str: load_script would read it as a file path
        return _bad_request("mock-llm: a script must be a JSON object (or a list of rules)")
    try:
        script = load_script(data)
    except ScriptError as exc:
        return _bad_request(str(exc))
    request.app.state.mock.script.replace(script)
    return JSONResponse({"ok": True, "rules": len(script.rules), "queue": len(script.queue)})
