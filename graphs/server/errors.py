"""Error answers shared by every route: busy threads (409), validation (422), oversized bodies (413).

- `ThreadBusy` raised anywhere (LangServe's raw graph and chat routes reserve threads too) is a
  `409` JSON answer instead of a 500.
- A validation error is always encodable: the input echoed back may hold text that is not valid
  UTF-8 (a lone surrogate sent as `"\\ud800"`), so the body is ASCII JSON. Under `/v1/` it has
  OpenAI's `{"error": {...}}` shape, so OpenAI SDKs show it.
- Starlette answers an oversized body with a plain-text `413`; it goes out as JSON on every route
  (`json_413`).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import Message, Send

from graphs.agent import ThreadBusy

__all__ = ["AsciiJSONResponse", "install_error_handlers", "is_utf8", "json_413", "openai_error"]


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: encodable whatever text it carries."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":"), default=str).encode()


def is_utf8(text: str) -> bool:
    """False for text that cannot be sent on as UTF-8 (lone surrogates from `\\udXXX` escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def openai_error(
    status: int, message: str, code: str, kind: str = "invalid_request_error", param: str | None = None
) -> JSONResponse:
    return AsciiJSONResponse(
        {"error": {"message": message, "type": kind, "code": code, "param": param}}, status_code=status
    )


def _errors(exc: RequestValidationError) -> list[Any]:
    errors = []
    for error in exc.errors():
        error = dict(error) if isinstance(error, dict) else {"msg": str(error)}
        error.pop("url", None)
        errors.append(error)
    encoded: list[Any] = jsonable_encoder(errors, custom_encoder={Exception: str, bytes: repr})
    return encoded


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _errors(exc)
    if request.url.path.startswith("/v1/"):
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        loc = [str(part) for part in first.get("loc", []) if part != "body"]
        where = ".".join(loc)
        what = str(first.get("msg", "invalid request"))
        message = f"{where}: {what}" if where else what
        return openai_error(422, message, "invalid_request", param=where or None)
    return AsciiJSONResponse({"detail": errors}, status_code=422)


async def _thread_busy(request: Request, exc: Exception) -> JSONResponse:
    message = f"a turn is already running on thread {str(exc)!r}; wait for it to end, or cancel it"
    if request.url.path.startswith("/v1/"):
        return openai_error(409, message, "thread_busy", "conflict")
    return AsciiJSONResponse({"detail": message, "code": "thread_busy"}, status_code=409)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ThreadBusy, _thread_busy)


def json_413(send: Send, max_body_bytes: int) -> Send:
    """Wrap `send` so that a plain-text `413` (Starlette's body limit, which runs outside every
    middleware an app can add) goes out as JSON; every other answer passes as is."""
    rewriting = False

    async def wrapped(message: Message) -> None:
        nonlocal rewriting
        if message["type"] == "http.response.start" and message["status"] == 413:
            headers = dict(message.get("headers") or [])
            if not headers.get(b"content-type", b"").startswith(b"application/json"):
                rewriting = True
                body = json.dumps(
                    {
                        "detail": f"the request body is larger than {max_body_bytes} bytes (serve.max_body_bytes)",
                        "code": "body_too_large",
                    }
                ).encode()
                start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": 413, "headers": start})
                await send({"type": "http.response.body", "body": body})
                return
        if rewriting:
            return  # the plain-text body already replaced
        await send(message)

    return wrapped
