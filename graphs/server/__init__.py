"""The HTTP server for one compiled agent: LangServe routes, SSE, WebSocket, OpenAI-compatible.

`create_app(plan, base_dir=...)` builds the FastAPI app; its lifespan opens the checkpointer and
compiles the graph (`graphs.agent.Agent`). Every chat surface runs turns through `Agent.turn()`, so
they share one event vocabulary, the per-thread lock and the restore-on-error. Started by
`factory serve SPEC` or, in the image, `python -m graphs.server --plan plan.json`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from graphs.agent import Agent
from graphs.checkpointers import choose_checkpointer_url
from graphs.server import agent_server, health, openai_compat, pages, sse, websocket
from graphs.server._turns import ServerState
from graphs.server.auth import ApiKeyMiddleware, load_api_keys
from graphs.server.errors import install_error_handlers, json_413
from graphs.server.langserve_routes import add_langserve_routes
from graphs.server.limits import Limits

__all__ = ["TEST_MODE_ENV", "create_app", "served_checkpointer_url"]

TEST_MODE_ENV = "FACTORY_TEST_MODE"


def served_checkpointer_url(plan: dict[str, Any], *, base_dir: str | Path, checkpointer: str | None = None) -> str:
    """The checkpointer URL by `graphs.checkpointers.choose_checkpointer_url` (relative SQLite files
    live in `base_dir` unless `FACTORY_DATA_DIR` is set)."""
    return choose_checkpointer_url(flag=checkpointer, spec=plan.get("serve", {}).get("checkpointer"),
                                   agent=plan["name"], default_root=base_dir)


def _reset_sse_starlette() -> None:
    """LangServe streams through sse-starlette, whose exit event is a process-wide `anyio.Event`
    bound to the first event loop that used it; a second app (tests, `--reload`) needs a fresh one."""
    try:
        from sse_starlette.sse import AppStatus
    except ImportError:  # pragma: no cover - a LangServe dependency
        return
    AppStatus.should_exit_event = None


class FactoryApp(FastAPI):
    """FastAPI whose oversized-body `413` is JSON like every other error (see `errors.json_413`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.max_body_size is not None:
            send = json_413(send, self.max_body_size)
        await super().__call__(scope, receive, send)


def create_app(
    plan: Any,
    *,
    base_dir: str | Path,
    checkpointer: str | None = None,
    model_override: str | None = None,
    test_mode: bool = False,
) -> FastAPI:
    """One FastAPI app for one plan. `test_mode` (or `FACTORY_TEST_MODE=1`) accepts `script`/`mocks`."""
    serve = plan.get("serve") or {}
    path = (serve.get("path") or f"/{plan['name']}").rstrip("/") or f"/{plan['name']}"
    limits = Limits.from_serve(serve)
    url = served_checkpointer_url(plan, base_dir=base_dir, checkpointer=checkpointer)
    state = ServerState(
        plan=plan,
        limits=limits,
        api_keys=load_api_keys(serve),
        checkpointer_url=url,
        test_mode=test_mode or os.environ.get(TEST_MODE_ENV, "") in ("1", "true", "yes"),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _reset_sse_starlette()
        async with Agent.open(plan, checkpointer=url, base_dir=base_dir, model_override=model_override) as agent, \
                agent_server.serving(app):
            state.agent = agent
            try:
                yield
            finally:
                state.agent = None

    app = FactoryApp(
        title=plan["name"],
        description=plan.get("description") or "",
        version=str(plan.get("plan", 1)),
        lifespan=lifespan,
        max_body_size=limits.max_body_bytes,
    )
    app.state.factory = state
    install_error_handlers(app)
    for module in (health, sse, websocket, openai_compat, pages, agent_server):
        app.include_router(module.router)

    def get_agent() -> Agent:
        if state.agent is None:
            raise RuntimeError("the agent is still starting")
        return state.agent

    add_langserve_routes(
        app,
        get_agent=get_agent,
        plan=plan,
        limits=limits,
        path=path,
        playground=bool(serve.get("playground", True)),
        name=plan["name"],
    )
    if state.api_keys:
        app.add_middleware(
            ApiKeyMiddleware,
            keys=state.api_keys,
            open_prefixes=(f"{path}/chat/playground", f"{path}/playground"),
        )
    origins = list(serve.get("cors_origins") or [])
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Thread-Id", "Content-Location", "Location"],
            allow_credentials="*" not in origins,
        )
    return app
