"""The outermost layer of every request: its id, a JSON `413`, and no exception escaping.

It wraps the whole app (`FactoryApp.__call__`), outside Starlette's own error and body-limit
middleware, because those are the two things it fixes:

- Starlette answers an oversized body with a plain-text `413` from outside every middleware an app
  can add; it goes out as the route family's JSON (`body_too_large`).
- An exception no route handled is answered by Starlette's error middleware (with our body, see
  `install_error_handlers`) and then re-raised for the server to log with a traceback. Here it is
  logged once, with the request id, and not re-raised. A known turn failure (a model's 500 on
  `/invoke`) is one line; only an `internal_error` gets a traceback.

Every HTTP answer carries `X-Request-Id` (the client's, when it sent a well-formed one).
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphs.server._errors import ApiError, as_api_error, body_too_large, error_response, request_id_of

log = logging.getLogger("graphs.server")

_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
WS_INTERNAL_ERROR = 1011


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(text):
                return text
    return uuid.uuid4().hex


class _Exchange:
    """One request's answer as it goes out: started? finished? and the two rewrites."""

    def __init__(self, scope: Scope, send: Send, max_body_bytes: int | None) -> None:
        self.scope, self._send, self.max_body_bytes = scope, send, max_body_bytes
        self.started = self.finished = self.replaced = False

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.started = True
            if message["status"] == 413 and not _is_json(message) and self.max_body_bytes is not None:
                self.replaced = True
                await self._answer(body_too_large(self.max_body_bytes))
                return
            headers = [*message.get("headers", ()), (b"x-request-id", str(request_id_of(self.scope)).encode())]
            message = {**message, "headers": headers}
        elif kind == "http.response.body":
            if self.replaced:
                return  # the plain-text body was replaced by the JSON one
            self.finished = not message.get("more_body", False)
        await self._send(message)

    async def _answer(self, error: ApiError) -> None:
        response = error_response(self.scope, error)
        response.raw_headers.append((b"x-request-id", str(request_id_of(self.scope)).encode()))
        await response(self.scope, _no_receive, self._send)
        self.finished = True

    async def failed(self, exc: Exception) -> None:
        error = as_api_error(exc)
        where = f"{self.scope.get('method', 'WS')} {self.scope.get('path', '')}"
        rid = request_id_of(self.scope)
        if error.code == "internal_error":
            log.error("unexpected error in %s (request %s)", where, rid, exc_info=exc)
        else:
            log.warning("%s failed (request %s): %s: %s", where, rid, error.code, error.message)
        with contextlib.suppress(Exception):  # the client may be gone; nothing more to tell it then
            if self.scope["type"] == "websocket":
                await self._send({"type": "websocket.close", "code": WS_INTERNAL_ERROR, "reason": error.code})
            elif not self.started:
                await self._answer(error)
            elif not self.finished:
                await self._send({"type": "http.response.body", "body": b"", "more_body": False})


async def _no_receive() -> Message:  # pragma: no cover - an error response reads nothing
    return {"type": "http.disconnect"}


def _is_json(message: Message) -> bool:
    headers = message.get("headers", ())
    return any(k.lower() == b"content-type" and v.startswith(b"application/json") for k, v in headers)


async def guard(app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, max_body_bytes: int | None) -> None:
    """Run `app` for one HTTP request or WebSocket with an id, a JSON 413 and no escaping exception."""
    if scope["type"] not in ("http", "websocket"):
        await app(scope, receive, send)
        return
    scope.setdefault("state", {})["request_id"] = _request_id(scope)
    exchange = _Exchange(scope, send, max_body_bytes)
    try:
        await app(scope, receive, exchange.send)
    except Exception as exc:
        await exchange.failed(exc)
