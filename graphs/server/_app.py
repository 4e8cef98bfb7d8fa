"""`create_app(plan, base_dir=...)`: one FastAPI app for one compiled agent."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from graphs.agent import Agent
from graphs.broker import choose_broker_url
from graphs.checkpointers import choose_checkpointer_url
from graphs.plan import Plan, serve_settings
from graphs.server import a2a, agent_server, health, mcp_endpoint, metrics, pages, sse, websocket
from graphs.server._errors import add_error_family, install_error_handlers
from graphs.server._guard import guard
from graphs.server._openapi import install_openapi
from graphs.server._state import ServerState
from graphs.server.auth import OPEN_PATHS, ApiKeyMiddleware, load_api_keys
from graphs.server.langserve import add_langserve_routes
from graphs.server.limits import Limits
from graphs.server.openai import OPENAI_ERRORS
from graphs.server.openai import router_for as openai_router_for

__all__ = ["TEST_MODE_ENV", "FactoryApp", "create_app", "served_checkpointer_url"]

TEST_MODE_ENV = "FACTORY_TEST_MODE"


def served_checkpointer_url(plan: Plan, *, base_dir: str | Path, checkpointer: str | None = None) -> str:
    """The checkpointer URL by `graphs.checkpointers.choose_checkpointer_url` (relative SQLite files
    live in `base_dir` unless `FACTORY_DATA_DIR` is set)."""
    return choose_checkpointer_url(flag=checkpointer, spec=serve_settings(plan)["checkpointer"],
                                   agent=plan["name"], default_root=base_dir)


def _reset_sse_starlette() -> None:
    """LangServe streams through sse-starlette, whose exit event is a process-wide `anyio.Event`
    bound to the first event loop that used it; a second app (tests, `--reload`) needs a fresh one."""
    from sse_starlette.sse import AppStatus

    AppStatus.should_exit_event = None


class FactoryApp(FastAPI):
    """FastAPI with the outermost guard (`_guard`): a request id, a JSON `413`, no escaping exception."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        await guard(super().__call__, scope, receive, send, max_body_bytes=self.max_body_size)


def create_app(
    plan: Plan,
    *,
    base_dir: str | Path,
    checkpointer: str | None = None,
    model_override: str | None = None,
    test_mode: bool = False,
) -> FastAPI:
    """One FastAPI app for one plan. `test_mode` (or `FACTORY_TEST_MODE=1`) accepts `script`/`mocks`.

    Raises:
        ValueError: a checkpointer or broker URL outside the grammar, or a limit variable that is not a number.
        AuthConfigError: `serve.auth` names a key variable that is empty.
    """
    serve = serve_settings(plan)
    state = ServerState(
        plan=plan,
        serve=serve,
        limits=Limits.from_serve(serve),
        api_keys=load_api_keys(serve),
        checkpointer_url=served_checkpointer_url(plan, base_dir=base_dir, checkpointer=checkpointer),
        test_mode=test_mode or os.environ.get(TEST_MODE_ENV, "") in ("1", "true", "yes"),
        broker_url=choose_broker_url(serve["broker"]),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _reset_sse_starlette()
        async with Agent.open(plan, checkpointer=state.checkpointer_url, base_dir=base_dir,
                              model_override=model_override) as agent, agent_server.serving(app), \
                mcp_endpoint.serving(app):
            state.agent = agent
            try:
                yield
            finally:
                state.agent = None

    app = FactoryApp(title=plan["name"], description=plan["description"] or "", version=str(plan["plan"]),
                     lifespan=lifespan, max_body_size=state.limits.max_body_bytes)
    app.state.factory = state
    install_error_handlers(app)
    for family in (OPENAI_ERRORS, *agent_server.AGENT_SERVER_ERRORS):
        add_error_family(app, family)
    for router in (health.router, sse.router_for(state.limits), websocket.router_for(state.limits),
                   openai_router_for(plan["name"]), pages.router, agent_server.router, metrics.router, a2a.router):
        app.include_router(router)
    path = (serve["path"] or f"/{plan['name']}").rstrip("/") or f"/{plan['name']}"
    add_langserve_routes(app, state, path=path)
    mcp_endpoint.install(app)
    install_openapi(app, auth=bool(state.api_keys), open_paths=OPEN_PATHS)
    _add_middleware(app, state, playground=(f"{path}/chat/playground", f"{path}/playground"))
    return app


def _add_middleware(app: FastAPI, state: ServerState, *, playground: tuple[str, ...]) -> None:
    """API keys (the playground's files stay open), then CORS outside them (a preflight needs no key)."""
    if state.api_keys:
        app.add_middleware(ApiKeyMiddleware, keys=state.api_keys, open_prefixes=playground)
    origins = state.serve["cors_origins"]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Thread-Id", "X-Request-Id", "Content-Location", "Location"],
            allow_credentials="*" not in origins,
        )
