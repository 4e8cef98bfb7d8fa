"""LangServe's routes for a runnable, each validating its request before LangServe sees it.

LangServe's own `add_routes` parses bodies itself (a `"config": null` or a list where an object
belongs was a 500) and publishes schemas looser than its checks. Here every route is ours: FastAPI
validates the body against `RequestModels` (strict, published as is in the OpenAPI document),
then the thread is checked (`ThreadBusy` -> 409 before a stream starts; inside a started stream
LangServe could only send a generic error event), and only then LangServe's `APIHandler` runs the
request. The routes and their JSON are LangServe's, so `RemoteRunnable` and the playground work
unchanged; the `c/{config_hash}` variants take the config from an LZString hash of its JSON.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import Body, FastAPI, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from langchain_core.runnables import Runnable
from langserve import APIHandler
from langserve.lzstring import LZString
from pydantic import BaseModel, ValidationError

from graphs.agent import Agent
from graphs.locks import ThreadBusy
from graphs.server._errors import ApiError, validation_error
from graphs.server._openapi import TURN_FAILURES, EventStreamDocs, errors_documented
from graphs.server.langserve._chat import history_thread
from graphs.server.langserve._schemas import RequestModels, RunConfig

__all__ = ["mount_runnable", "mount_playground_redirect"]

_POSTS = {"invoke": "invoke", "batch": "batch", "stream": "stream", "stream_log": "stream_log",
          "stream_events": "astream_events"}
_GETS = ("input_schema", "output_schema", "config_schema")
_REFUSALS = errors_documented("thread_busy", "invalid_request", "bad_thread_id", "message_too_long", "not_ready")


def _config_from_hash(config_hash: str) -> RunConfig:
    """The config a `c/{config_hash}` path carries (LZString, URI-safe, of its JSON)."""
    try:
        data = json.loads(LZString.decompressFromEncodedURIComponent(config_hash) or "")
    except Exception:
        raise ApiError("invalid_request", "`config_hash` is not an LZString-compressed JSON config "
                                          "(as the playground's share links make)", field="config_hash") from None
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        error = validation_error([{**e, "loc": ("path", "config_hash", *e["loc"])} for e in exc.errors()])
        raise error from None


class _Mount:
    """One runnable's routes under `path`."""

    def __init__(self, app: FastAPI, runnable: Runnable[Any, Any], *, path: str, models: RequestModels,
                 get_agent: Callable[[], Agent], chat: bool, playground: bool) -> None:
        self.app, self.path, self.models, self.get_agent, self.chat = app, path, models, get_agent, chat
        self.handler = APIHandler(runnable, path=path, playground_type="chat" if chat else "default",
                                  enable_feedback_endpoint=False)
        self.tag = path.strip("/")
        for prefix in ("", "/c/{config_hash}"):
            for endpoint, method in _POSTS.items():
                self._post(prefix, endpoint, getattr(self.handler, method))
            for endpoint in _GETS:
                self._get(prefix, endpoint, getattr(self.handler, endpoint))
        if playground:
            handler = self.handler

            async def files(file_path: str, request: Request) -> Response:
                response: Response = await handler.playground(file_path, request)
                return response

            app.add_api_route(f"{path}/playground/{{file_path:path}}", files, methods=["GET"], include_in_schema=False)

    def _name(self, prefix: str, endpoint: str) -> str:
        return f"{self.tag} {endpoint}" + (" with config" if prefix else "")

    def _post(self, prefix: str, endpoint: str, call: Callable[..., Awaitable[Response]]) -> None:
        model: type[BaseModel] = getattr(self.models, endpoint)

        async def run(request: Request, body: Any, config_hash: str = "") -> Response:
            hashed = _config_from_hash(config_hash) if config_hash else None
            self._check_threads(body, hashed)
            return await call(request, config_hash=config_hash)

        params = [_param("request", Request), _param("body", Annotated[model, Body()])]
        if prefix:
            params.append(_hash_param())
        run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        streams = endpoint.startswith("stream")
        ok: dict[str, Any] = {"description": "An event stream (`data`, `metadata`, `error`, `end`)."} if streams \
            else {"model": self.handler.BatchResponse if endpoint == "batch" else self.handler.InvokeResponse}
        self.app.add_api_route(
            f"{self.path}{prefix}/{endpoint}", run, methods=["POST"], name=self._name(prefix, endpoint),
            tags=[self.tag + ("/config" if prefix else "")], response_model=None,
            response_class=EventStreamDocs if streams else JSONResponse,
            responses={200: ok, **_REFUSALS, **({} if streams else errors_documented(*TURN_FAILURES))},
        )

    def _get(self, prefix: str, endpoint: str, call: Callable[..., Awaitable[Response]]) -> None:
        async def schema(request: Request, config_hash: str = "") -> Response:
            if config_hash:
                _config_from_hash(config_hash)
            return await call(request, config_hash=config_hash)

        schema.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [_param("request", Request), *([_hash_param()] if prefix else [])])
        self.app.add_api_route(
            f"{self.path}{prefix}/{endpoint}", schema, methods=["GET"], name=self._name(prefix, endpoint),
            tags=[self.tag + ("/config" if prefix else "")], response_model=None,
            responses={200: {"description": f"The runnable's {endpoint.replace('_', ' ')} (a JSON Schema).",
                             "content": {"application/json": {"schema": {"type": "object"}}}}},
        )

    def _check_threads(self, body: Any, hashed: RunConfig | None) -> None:
        """A request for a busy thread is `ThreadBusy` (409) before LangServe starts a stream."""
        inputs: Sequence[Any] = getattr(body, "inputs", None) or [body.input]
        config = body.config
        configs = config if isinstance(config, list) else [config] * len(inputs)
        agent = self.get_agent()
        for given, one in zip(inputs, configs, strict=True):
            thread = one.thread_id or (hashed.thread_id if hashed else None)
            if thread is None and self.chat:
                thread = history_thread(given.messages)
            if thread is not None and agent.is_busy(thread):
                raise ThreadBusy(thread)


def _param(name: str, annotation: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)


def _hash_param() -> inspect.Parameter:
    annotation = Annotated[str, Path(min_length=1, description="An LZString (URI-safe) of the config's JSON.")]
    return inspect.Parameter("config_hash", inspect.Parameter.KEYWORD_ONLY, annotation=annotation)


def mount_runnable(app: FastAPI, runnable: Runnable[Any, Any], *, path: str, models: RequestModels,
                   get_agent: Callable[[], Agent], chat: bool, playground: bool) -> None:
    """LangServe's `invoke`, `batch`, `stream`, `stream_log`, `stream_events` and schema routes (and
    their `c/{config_hash}` variants) for `runnable` at `path`; the chat playground if `playground`."""
    _Mount(app, runnable, path=path, models=models, get_agent=get_agent, chat=chat, playground=playground)


def mount_playground_redirect(app: FastAPI, *, path: str) -> None:
    """`path/playground/` -> the chat playground: the playground people open is the chat."""

    async def to_chat_playground() -> RedirectResponse:
        return RedirectResponse(f"{path}/chat/playground/", status_code=307)

    for url in (f"{path}/playground", f"{path}/playground/"):
        app.add_api_route(url, to_chat_playground, methods=["GET"], include_in_schema=False)
