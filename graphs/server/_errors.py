"""Every error answer of the server, mapped in one place.

A route raises `ApiError(code, message, field=...)` (or lets `ThreadBusy`, a validation error or an
unexpected exception propagate); `as_api_error` turns any of them into an `ApiError`, and the
route family (chosen by path prefix) renders it: the default body below, OpenAI's
`{"error": {...}}` under `/v1/`, and whatever a later family registers with `add_error_family`.
The HTTP status is the code's `ERROR_CODES[code].status` unless a route says otherwise.

The default body (documented in `docs/serving.md`)::

    {"code": "invalid_request", "detail": "body.message: String should have at least 1 character",
     "retryable": false, "field": "message",
     "errors": [{"in": "body", "field": "message", "expected": "String should have at least 1 character",
                 "given": "''"}],
     "request_id": "3f2a..."}

Bodies are ASCII JSON: a request may echo text that is not valid UTF-8 (a lone surrogate).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from graphs.errors import classify_error
from graphs.events import ERROR_CODES, ErrorCode, ErrorEvent
from graphs.locks import ThreadBusy

__all__ = [
    "DEFAULT_FAMILY",
    "ApiError",
    "ErrorFamily",
    "FieldProblem",
    "ProblemBody",
    "TurnFailed",
    "add_error_family",
    "as_api_error",
    "error_code_table",
    "error_response",
    "validation_error",
]

Location = Literal["body", "query", "path", "header", "cookie", "frame"]


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One invalid field: where it is, what was expected there, and what was given."""

    location: Location
    field: str
    expected: str
    given: str | None = None
    loc: tuple[str | int, ...] = ()
    """The path as FastAPI writes it (`("body", "input", "messages", 0)`), for families that show it."""
    kind: str = "value_error"
    """pydantic's error type (`missing`, `literal_error`, ...)."""

    def as_dict(self) -> dict[str, Any]:
        return {"in": self.location, "field": self.field, "expected": self.expected, "given": self.given}


class ApiError(Exception):
    """A request refused (or a turn failed) with one of `graphs.events.ErrorCode`.

    Args:
        code: the error code; its `ERROR_CODES` entry gives the status and `retryable`.
        message: one sentence for the user: what is wrong and how to fix it.
        status: the HTTP status when it is not the code's own (a 405 is `invalid_request`).
        field: the offending field (dotted path in the body, or a header or parameter name).
        errors: every invalid field, for validation errors.
        headers: extra response headers (`WWW-Authenticate` on a 401).
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        status: int | None = None,
        field: str | None = None,
        errors: Sequence[FieldProblem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.status = status if status is not None else ERROR_CODES[code].status
        self.field = field
        self.errors = tuple(errors)
        self.headers = dict(headers or {})

    @property
    def retryable(self) -> bool:
        return ERROR_CODES[self.code].retryable

    def event(self) -> ErrorEvent:
        """The same error as an `error` event (a WebSocket frame): the field leads the message."""
        where = f"{self.field}: " if self.field and not self.message.startswith(self.field) else ""
        return ErrorEvent.of(self.code, where + self.message)


class TurnFailed(RuntimeError):
    """A turn ended with an `error` event where a surface can only raise (a LangServe runnable)."""

    def __init__(self, event: ErrorEvent) -> None:
        super().__init__(f"{event.code}: {event.message}")
        self.event = event


# ---------------------------------------------------------------------------------- bodies


class FieldProblemBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True, title="FieldProblem")

    location: Location = Field(alias="in", description="Where the field is: body, query, path, header, frame.")
    field: str = Field(description="The field's path, e.g. `input.messages[0].role`.")
    expected: str = Field(description="What the field must be.")
    given: str | None = Field(description="The value given (shortened), or null when it was missing.")


class ProblemBody(BaseModel):
    """The error body of every route outside `/v1/` (`docs/serving.md`)."""

    model_config = ConfigDict(title="Problem")

    code: ErrorCode = Field(description="One of the error codes in `docs/errors.md`.")
    detail: str = Field(description="What is wrong and how to fix it.")
    retryable: bool = Field(description="True when sending the same request again may succeed.")
    field: str | None = Field(description="The first invalid field, if the request had one.")
    errors: list[FieldProblemBody] = Field(description="Every invalid field (validation errors).")
    request_id: str | None = Field(description="The request's id, as in the `X-Request-Id` header and the log.")


def _problem_body(error: ApiError, request_id: str | None) -> dict[str, Any]:
    return {
        "code": error.code,
        "detail": error.message,
        "retryable": error.retryable,
        "field": error.field,
        "errors": [problem.as_dict() for problem in error.errors],
        "request_id": request_id,
    }


@dataclass(frozen=True)
class ErrorFamily:
    """How the routes under `prefix` spell an error: `body` renders it, `model` documents it."""

    prefix: str
    body: Callable[[ApiError, str | None], dict[str, Any]]
    model: type[BaseModel]


DEFAULT_FAMILY = ErrorFamily("/", _problem_body, ProblemBody)


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: encodable whatever text it carries."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":"), default=str).encode()


def add_error_family(app: FastAPI, family: ErrorFamily) -> None:
    """Routes under `family.prefix` answer errors in its shape (the longest matching prefix wins)."""
    families: list[ErrorFamily] = getattr(app.state, "error_families", [DEFAULT_FAMILY])
    app.state.error_families = sorted([*families, family], key=lambda f: len(f.prefix), reverse=True)


def family_for(app: Any, path: str) -> ErrorFamily:
    families: list[ErrorFamily] = getattr(app.state, "error_families", [DEFAULT_FAMILY])
    return next((f for f in families if path.startswith(f.prefix)), DEFAULT_FAMILY)


def request_id_of(scope: Scope) -> str | None:
    """The request's id (set by the app for every request; see `_guard`)."""
    state = scope.get("state")
    return state.get("request_id") if isinstance(state, dict) else None


def error_response(scope: Scope, error: ApiError) -> Response:
    """`error` as the answer of the route family `scope`'s path belongs to."""
    family = family_for(scope["app"], scope.get("path", ""))
    return AsciiJSONResponse(family.body(error, request_id_of(scope)), status_code=error.status,
                             headers=error.headers or None)


# ---------------------------------------------------------------------------------- mapping


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


_BY_STATUS: dict[int, ErrorCode] = {
    401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "thread_busy", 413: "body_too_large",
    503: "not_ready",
}


def as_api_error(exc: BaseException) -> ApiError:
    """The one mapping from an exception to an error answer.

    `ThreadBusy` is `thread_busy` (409); a failed turn keeps its code (a model's 500 is
    `model_error`, 502); anything unknown is `internal_error` (500).
    """
    exc = next(_leaves(exc), exc)
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ThreadBusy):
        return ApiError("thread_busy", f"a turn is already running on thread {exc.thread_id!r}; wait for its "
                                       "`end` event (or cancel it), then send again")
    if isinstance(exc, TurnFailed):
        return ApiError(exc.event.code, exc.event.message)
    if isinstance(exc, (RequestValidationError, WebSocketRequestValidationError)):
        return validation_error(exc.errors())
    if isinstance(exc, StarletteHTTPException) and exc.status_code == 413:
        return body_too_large(None)
    if isinstance(exc, StarletteHTTPException):
        code = _BY_STATUS.get(exc.status_code, "invalid_request" if exc.status_code < 500 else "internal_error")
        # FastAPI's 400: a body it could not parse (JSON nested too deeply, bytes that are not UTF-8)
        if exc.status_code == 400:
            expected = "a JSON body in UTF-8, nested a few hundred levels deep at most"
            return ApiError(code, f"{exc.detail}: send {expected}", field=None,
                            errors=[FieldProblem("body", "", expected, loc=("body",))])
        return ApiError(code, str(exc.detail), status=exc.status_code, headers=exc.headers)
    code, _retryable, message = classify_error(exc)
    if code == "internal_error":
        return ApiError(code, "an unexpected error; the server log has the details under this request id")
    return ApiError(code, message)


def body_too_large(max_bytes: int | None) -> ApiError:
    limit = f"{max_bytes} bytes" if max_bytes is not None else "the server's limit"
    return ApiError("body_too_large", f"the request body is larger than {limit} (serve.max_body_bytes)")


def validation_error(errors: Sequence[Any], *, location: Location | None = None) -> ApiError:
    """A pydantic/FastAPI error list as one `invalid_request` (or the code a field's own check raised:
    `message_too_long`, `bad_thread_id`)."""
    problems = [_field_problem(error, location) for error in errors if isinstance(error, dict)]
    problems = problems or [FieldProblem(location or "body", "", str(errors[0]) if errors else "a valid request")]
    codes: list[ErrorCode] = [e["type"] for e in errors if isinstance(e, dict) and e.get("type") in ERROR_CODES]
    first = problems[0]
    shown = "; ".join(f"{p.field or p.location}: {p.expected}" + (f" (given {p.given})" if p.given else "")
                      for p in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return ApiError(codes[0] if codes else "invalid_request", shown + more, field=first.field or None,
                    errors=problems, status=ERROR_CODES["invalid_request"].status)


def _field_problem(error: dict[str, Any], location: Location | None) -> FieldProblem:
    loc = list(error.get("loc") or ())
    where: Location = location or "body"
    if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
        where = loc.pop(0)
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    kind = error.get("type", "")
    expected = str(error.get("msg") or "a valid value")
    if kind == "json_invalid":
        expected = f"valid JSON ({(error.get('ctx') or {}).get('error', 'a syntax error')})"
        path = ""
    elif kind == "missing":
        expected = "a value: the field is required"
    elif kind == "extra_forbidden":
        expected = "no such field: it is not part of the schema (remove it)"
    given = None if kind in ("missing", "json_invalid") else _shorten(error.get("input"))
    raw = tuple(error.get("loc") or ())
    return FieldProblem(where, path, expected, given, loc=raw or (where,), kind=str(kind or "value_error"))


def _shorten(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_utf8(text: str) -> bool:
    """False for text that cannot be sent on as UTF-8 (lone surrogates from `\\udXXX` escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ---------------------------------------------------------------------------------- handlers


async def _handle(request: Request, exc: Exception) -> Response:
    error = as_api_error(exc)
    if error.code == "body_too_large":  # a body streamed without a length, cut off while it arrived
        error = body_too_large(getattr(request.app, "max_body_size", None))
    return error_response(request.scope, error)


def install_error_handlers(app: FastAPI) -> None:
    """Every exception a route raises, answered in its family's shape. `Exception` goes to
    Starlette's outermost error middleware: it answers with our body, and the app (`_guard`) logs it
    once with the request id."""
    for kind in (ApiError, ThreadBusy, TurnFailed, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, _handle)
    app.state.error_families = getattr(app.state, "error_families", [DEFAULT_FAMILY])



# ---------------------------------------------------------------------------------- docs

_WHERE = {
    "turn": "`error` event of a turn (SSE, WebSocket, LangServe chat); a non-streaming route's answer",
    "request": "error body of a refused request; `error` frame on a WebSocket",
    "client": "reported by the factory's own client (`factory chat`, `factory test`)",
}


def error_code_table() -> str:
    """`docs/errors.md`, generated from `graphs.events.ERROR_CODES` (a test keeps the file equal)."""
    lines = [
        "# Error codes",
        "",
        "<!-- generated from graphs.events.ERROR_CODES by graphs.server.error_code_table(); do not edit -->",
        "",
        "Every error the project reports carries one of these codes: in an `error` event (`{code, message,",
        "retryable}`), in an HTTP error body (`docs/serving.md`, \"Errors\") and in a WebSocket `error` frame.",
        "`retryable` says whether sending the same thing again may succeed.",
        "",
        "| code | where it appears | HTTP status | retryable | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for code, info in ERROR_CODES.items():
        status = str(info.status) if info.status else "-"
        lines.append(f"| `{code}` | {_WHERE[info.origin]} | {status} | {'yes' if info.retryable else 'no'} "
                     f"| {info.meaning} |")
    return "\n".join(lines) + "\n"
