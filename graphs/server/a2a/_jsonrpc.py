"""JSON-RPC 2.0 for `/a2a`: the envelope checked field by field, and error answers.

Every refusal names what is wrong and how to fix it: a body that is not JSON is -32700, an envelope
that is not a request -32600, an unknown method -32601, params that do not fit -32602 (with each
invalid field). `data` carries the factory's error code (`graphs.events.ErrorCode`) when there is
one, so a client can act on `thread_busy` or `message_too_long` as on every other route.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graphs.events import ERROR_CODES, ErrorCode
from graphs.server._errors import ApiError

__all__ = ["RpcError", "error_body", "parse_request", "result_body"]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000
TASK_NOT_FOUND = -32001
UNSUPPORTED_OPERATION = -32004
CONTENT_TYPE_NOT_SUPPORTED = -32005

RequestId = str | int | None


class RpcError(Exception):
    """A JSON-RPC error answer: `code`, a message that says how to fix it, and optional `data`."""

    def __init__(self, code: int, message: str, *, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    @classmethod
    def of(cls, error: ApiError) -> RpcError:
        """A refused request of the shared mapping (`as_api_error`), as JSON-RPC: bad input is -32602."""
        status = ERROR_CODES[error.code].status
        code = INVALID_PARAMS if status == 422 else SERVER_ERROR
        return cls(code, error.message, data=_data(error.code, field=error.field))


def _data(code: ErrorCode, *, field: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"code": code, "retryable": ERROR_CODES[code].retryable}
    if field:
        data["field"] = field
    return data


@dataclass(frozen=True)
class RpcRequest:
    id: RequestId
    method: str
    params: dict[str, Any]


def parse_request(raw: bytes) -> RpcRequest:
    """The request in `raw`, or `RpcError` (with the id, when one could be read, in `.data`)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RpcError(PARSE_ERROR, f"the body is not valid JSON ({exc}); send one JSON-RPC 2.0 request "
                                    'object: {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {...}}',
                       data=_data("bad_json")) from None
    if isinstance(body, list):
        raise RpcError(INVALID_REQUEST, "batch requests are not supported: send one request object per HTTP request",
                       data=_data("invalid_request"))
    if not isinstance(body, dict):
        raise RpcError(INVALID_REQUEST, f"a JSON-RPC request is a JSON object, not {_kind(body)}",
                       data=_data("invalid_request"))
    request_id = body.get("id")
    problems = []
    if body.get("jsonrpc") != "2.0":
        problems.append(f'`jsonrpc` must be "2.0" (given {_given(body, "jsonrpc")})')
    if "id" not in body:
        problems.append("`id` is missing: this server answers requests, not notifications; send a string or "
                        "integer id")
    elif not _valid_id(request_id):
        problems.append(f"`id` must be a string, an integer or null (given {_kind(request_id)})")
        request_id = None
    if not isinstance(body.get("method"), str):
        problems.append(f"`method` must be a string such as \"message/send\" (given {_given(body, 'method')})")
    if problems:
        raise _with_id(RpcError(INVALID_REQUEST, "; ".join(problems), data=_data("invalid_request")), request_id)
    params = body.get("params", {})
    if not isinstance(params, dict):
        raise _with_id(RpcError(INVALID_PARAMS, f"`params` must be an object of named parameters (given "
                                                f"{_kind(params)})", data=_data("invalid_request", field="params")),
                       request_id)
    return RpcRequest(request_id, body["method"], params)


def _with_id(error: RpcError, request_id: RequestId) -> RpcError:
    error.request_id = request_id  # type: ignore[attr-defined]
    return error


def _valid_id(value: Any) -> bool:
    return value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _given(body: dict[str, Any], key: str) -> str:
    return "nothing" if key not in body else _short(body[key])


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def params_error(errors: Sequence[Any]) -> RpcError:
    """Pydantic's errors for `params` as one -32602 naming every field (`params.message.parts[0].text`)."""
    from graphs.server._errors import validation_error

    error = validation_error(errors)
    shown = []
    for problem in error.errors[:3]:
        where = f"params.{problem.field}" if problem.field else "params"
        shown.append(f"{where}: {problem.expected}" + (f" (given {problem.given})" if problem.given else ""))
    more = f" (and {len(error.errors) - 3} more)" if len(error.errors) > 3 else ""
    field = f"params.{error.field}" if error.field else "params"
    return RpcError(INVALID_PARAMS, "; ".join(shown) + more, data=_data(error.code, field=field))


def result_body(request_id: RequestId, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_body(error: RpcError, request_id: RequestId = None) -> dict[str, Any]:
    request_id = getattr(error, "request_id", request_id)
    payload: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.data is not None:
        payload["data"] = error.data
    return {"jsonrpc": "2.0", "id": request_id, "error": payload}
