"""The OpenAPI document, made to tell the truth about errors.

Routes say which error codes they can answer (`errors_documented(...)`); this module adds what every
route can answer (`500 internal_error`; `401` when API keys are on; `413` for a body; `422` for any
input) and gives every error status the body schema of the route's family (`_errors.ErrorFamily`),
replacing FastAPI's default `HTTPValidationError`, which is not what the server sends.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response

from graphs.events import ERROR_CODES, ErrorCode
from graphs.server._errors import family_for

__all__ = ["TURN_FAILURES", "errors_documented", "event_stream", "with_parameters"]

F = TypeVar("F", bound=Callable[..., Any])

TURN_FAILURES: tuple[ErrorCode, ...] = tuple(
    code for code, info in ERROR_CODES.items() if info.origin == "turn" and code != "cancelled"
)
"""What a non-streaming route answers when its turn fails (a cancelled turn has no one to answer)."""

_DEFAULT_SCHEMAS = ("HTTPValidationError", "ValidationError")


class EventStreamDocs(Response):
    """`response_class` of a route that returns its own event stream: it only makes the document say
    `text/event-stream` (FastAPI's `EventSourceResponse` as `response_class` expects a generator route)."""

    media_type = "text/event-stream"


def with_parameters(endpoint: F, **parameters: Any) -> F:
    """`endpoint` with these (keyword) parameters as FastAPI sees them (`name=annotation`, or
    `name=(annotation, default)`): for routes whose body model is built per server (a limit, the
    agent's name in its schema), which no static annotation can name."""
    signature = []
    for name, spec in parameters.items():
        kind, default = spec if isinstance(spec, tuple) else (spec, inspect.Parameter.empty)
        signature.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default))
    endpoint.__signature__ = inspect.Signature(signature)  # type: ignore[attr-defined]
    return endpoint


def event_stream(data: dict[str, dict[str, Any] | None], *, description: str) -> dict[str, Any]:
    """An OpenAPI `200` of `text/event-stream`: its schema describes one event (`{event, data}`, as
    OpenAPI 3.1 tools read it), the event's name from `data`'s keys and, for each, the JSON its `data`
    line holds (`None`: a plain string)."""
    events = []
    for name, schema in data.items():
        line: dict[str, Any] = {"type": "string"}
        if schema is not None:
            line |= {"contentMediaType": "application/json", "contentSchema": schema}
        events.append({"type": "object", "properties": {"event": {"const": name}, "data": line},
                       "required": ["event", "data"]})
    one = events[0] if len(events) == 1 else {"type": "object", "oneOf": events}  # (`type` replaces FastAPI's)
    return {"description": description, "content": {"text/event-stream": {"schema": one}}}


def errors_documented(*codes: ErrorCode) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error codes a route answers, one entry per HTTP status."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in codes:
        by_status.setdefault(ERROR_CODES[code].status, []).append(code)
    return {status: {"description": _describe(found)} for status, found in sorted(by_status.items())}


def _describe(codes: list[ErrorCode]) -> str:
    return "\n".join(f"- `{code}`: {ERROR_CODES[code].meaning}" for code in codes)


def install_openapi(app: FastAPI, *, auth: bool, open_paths: tuple[str, ...]) -> None:
    """`app.openapi()` builds FastAPI's document once, then completes its error responses."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes, tags=app.openapi_tags)
            _complete(schema, app, auth=auth, open_paths=open_paths)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(schema: dict[str, Any], app: FastAPI, *, auth: bool, open_paths: tuple[str, ...]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for path, item in schema.get("paths", {}).items():
        family = family_for(app, path)
        ref = _register(components, family.model)
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            common: list[ErrorCode] = ["internal_error"]
            if auth and path not in open_paths:
                common.append("unauthorized")
            if "requestBody" in operation:
                common.append("body_too_large")
            if "requestBody" in operation or operation.get("parameters"):
                common.append("invalid_request")
            for status, entry in errors_documented(*common).items():
                responses.setdefault(str(status), entry)
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400 and _default_or_none(response):
                    response["content"] = {"application/json": {"schema": {"$ref": ref}}}
    used = json.dumps(schema.get("paths"))
    for name in _DEFAULT_SCHEMAS:  # FastAPI's validation-error schemas, now that nothing refers to them
        if f'"#/components/schemas/{name}"' not in used:
            components.pop(name, None)


def _default_or_none(response: dict[str, Any]) -> bool:
    content = response.get("content")
    if not content:
        return True
    ref = str(content.get("application/json", {}).get("schema", {}).get("$ref", ""))
    return ref.rsplit("/", 1)[-1] in _DEFAULT_SCHEMAS


def _register(components: dict[str, Any], model: Any) -> str:
    body = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(body.pop("$defs", {}))
    name = body.get("title", model.__name__)
    components.setdefault(name, body)
    return f"#/components/schemas/{name}"
