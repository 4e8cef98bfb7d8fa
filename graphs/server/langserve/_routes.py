"""LangServe's routes for a runnable, each validating its request before LangServe sees it.

LangServe's own `add_routes` parses bodies itself (a `"config": null` or a list where an object
belongs was a 500) and publishes schemas looser than its checks. Here every route is ours: FastAPI
validates the body against `RequestModels` (strict, published as is in the OpenAPI document),
then the thread is checked (`ThreadBusy` -> 409 before a stream starts; inside a started stream
LangServe could only send a generic error event), and only then LangServe's `APIHandler` runs the
request. The routes and their JSON are LangServe's, so `RemoteRunnable` and the playground work
unchanged.

LangServe's `c/{config_hash}/...` variants of the run routes are not served: they exist for the
default playground's share links (the graph's default playground is off; the chat playground runs
on the plain routes), and a path parameter that must be an LZString of a JSON config is one no
OpenAPI schema can describe. The schema routes keep theirs (the chat playground reads
`c/{hash}/input_schema`): the hash is accepted and ignored, as these schemas do not depend on a config.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import Body, FastAPI, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from langchain_core.runnables import Runnable
from langserve import APIHandler
from pydantic import BaseModel

from graphs.agent import Agent
from graphs.locks import ThreadBusy
from graphs.server._openapi import TURN_FAILURES, EventStreamDocs, errors_documented, event_stream, with_parameters
from graphs.server._state import ServerState
from graphs.server.langserve._chat import ChatRunnable, history_thread
from graphs.server.langserve._graph import GraphRunnable
from graphs.server.langserve._schemas import RequestModels

__all__ = ["add_langserve_routes"]

_POSTS = {"invoke": "invoke", "batch": "batch", "stream": "stream", "stream_log": "stream_log",
          "stream_events": "astream_events"}
_GETS = ("input_schema", "output_schema", "config_schema")
_REFUSALS = errors_documented("thread_busy", "invalid_request", "bad_thread_id", "message_too_long", "not_ready")


_STREAM = event_stream(
    {
        "metadata": {"type": "object", "properties": {"run_id": {"type": ["string", "null"]}}},
        "data": {},
        "error": {"type": "object", "properties": {"status_code": {"type": "integer"}, "message": {"type": "string"}}},
    },
    description="LangServe's event stream: `metadata` (the run id), `data` (one chunk each), then `end` (no "
                "data), or `error` if the run failed.",
)


class _Mount:
    """One runnable's routes under `path`."""

    def __init__(self, app: FastAPI, runnable: Runnable[Any, Any], *, path: str, models: RequestModels,
                 get_agent: Callable[[], Agent], chat: bool, playground: bool) -> None:
        self.app, self.path, self.models, self.get_agent, self.chat = app, path, models, get_agent, chat
        self.handler = APIHandler(runnable, path=path, playground_type="chat" if chat else "default",
                                  enable_feedback_endpoint=False)
        self.tag = path.strip("/")
        for endpoint, method in _POSTS.items():
            self._post(endpoint, getattr(self.handler, method))
        for endpoint in _GETS:
            for hashed in (False, True):
                self._get(endpoint, getattr(self.handler, endpoint), hashed=hashed)
        if playground:
            handler = self.handler

            async def files(file_path: str, request: Request) -> Response:
                response: Response = await handler.playground(file_path, request)
                return response

            app.add_api_route(f"{path}/playground/{{file_path:path}}", files, methods=["GET"], include_in_schema=False)

    def _post(self, endpoint: str, call: Callable[..., Awaitable[Response]]) -> None:
        model: type[BaseModel] = getattr(self.models, endpoint)

        async def run(request: Request, body: Any) -> Response:
            self._check_threads(body)
            return await call(request)

        with_parameters(run, request=Request, body=Annotated[model, Body()])
        streams = endpoint.startswith("stream")
        if streams:
            ok, errors = _STREAM, _REFUSALS
        else:
            ok = {"model": self.handler.BatchResponse if endpoint == "batch" else self.handler.InvokeResponse}
            errors = {**_REFUSALS, **errors_documented(*TURN_FAILURES)}
        self.app.add_api_route(
            f"{self.path}/{endpoint}", run, methods=["POST"], name=f"{self.tag} {endpoint}", tags=[self.tag],
            response_model=None, response_class=EventStreamDocs if streams else JSONResponse,
            responses={200: ok, **errors},
        )

    def _get(self, endpoint: str, call: Callable[..., Awaitable[Response]], *, hashed: bool) -> None:
        async def schema(request: Request, config_hash: str = "") -> Response:
            return await call(request)  # the schemas of these runnables do not depend on a config

        parameters: dict[str, Any] = {"request": Request}
        if hashed:
            parameters["config_hash"] = Annotated[str, Path(description="A playground config hash (ignored).")]
        self.app.add_api_route(
            f"{self.path}{'/c/{config_hash}' if hashed else ''}/{endpoint}",
            with_parameters(schema, **parameters), methods=["GET"],
            name=f"{self.tag} {endpoint}" + (" with config" if hashed else ""), tags=[self.tag],
            response_model=None,
            responses={200: {"description": f"The runnable's {endpoint.replace('_', ' ')} (a JSON Schema).",
                             "content": {"application/json": {"schema": {"type": "object"}}}}},
        )

    def _check_threads(self, body: Any) -> None:
        """A request for a busy thread is `ThreadBusy` (409) before LangServe starts a stream."""
        batch: Sequence[Any] | None = getattr(body, "inputs", None)
        inputs = [body.input] if batch is None else batch
        config = body.config
        configs = config if isinstance(config, list) else [config] * len(inputs)
        agent = self.get_agent()
        for given, one in zip(inputs, configs, strict=True):
            thread = one.thread_id
            if thread is None and self.chat:
                thread = history_thread(given.messages)
            if thread is not None and agent.is_busy(thread):
                raise ThreadBusy(thread)


def mount_runnable(app: FastAPI, runnable: Runnable[Any, Any], *, path: str, models: RequestModels,
                   get_agent: Callable[[], Agent], chat: bool, playground: bool) -> None:
    """LangServe's `invoke`, `batch`, `stream`, `stream_log`, `stream_events` and schema routes for
    `runnable` at `path`; the chat playground if `playground`."""
    _Mount(app, runnable, path=path, models=models, get_agent=get_agent, chat=chat, playground=playground)


def mount_playground_redirect(app: FastAPI, *, path: str) -> None:
    """`path/playground/` -> the chat playground: the playground people open is the chat."""

    async def to_chat_playground() -> RedirectResponse:
        return RedirectResponse(f"{path}/chat/playground/", status_code=307)

    for url in (f"{path}/playground", f"{path}/playground/"):
        app.add_api_route(url, to_chat_playground, methods=["GET"], include_in_schema=False)


def add_langserve_routes(app: FastAPI, state: ServerState, *, path: str) -> None:
    """The graph at `path` (its form playground off), the chat runnable at `path/chat` with the chat
    playground (when `serve.playground`), and `path/playground/` redirecting there."""
    playground = state.serve["playground"]
    title = "".join(part.title() for part in state.name.replace("_", "-").split("-"))
    graph = GraphRunnable(state.require_agent, state.plan, state.limits)
    chat = ChatRunnable(state.require_agent, state.name, state.limits)
    mount_runnable(app, graph, path=path, models=RequestModels(title, graph.get_input_schema()),
                   get_agent=state.require_agent, chat=False, playground=False)
    mount_runnable(app, chat, path=f"{path}/chat", models=RequestModels(f"{title}Chat", chat.get_input_schema()),
                   get_agent=state.require_agent, chat=True, playground=playground)
    if playground:
        mount_playground_redirect(app, path=path)
