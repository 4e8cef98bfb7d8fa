"""The LangGraph Agent Server API on a factory agent's server, for the clients people already use:
`langgraph-sdk` (Python), `@langchain/langgraph-sdk` (JS, `useStream`), Agent Chat UI, LangGraph Studio.

One assistant per served spec (its id the graph id, the spec's name); threads in a small table in
the checkpointer's database (`graphs.threads`); runs through the agent's one turn session, their
bookkeeping in `graphs.runs`; one encoder from the factory's typed events to the API's stream modes
(`_encode`). The server includes `router` and, in its lifespan, `serving(app)`. See
`docs/agent-server.md`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import APIRouter, FastAPI

from graphs.broker import open_runs
from graphs.server.agent_server import _assistants, _runs, _threads
from graphs.server.agent_server._context import AGENT_SERVER_ERRORS, AgentServer
from graphs.server.agent_server._encode import Encoder
from graphs.threads import open_thread_store

__all__ = ["AGENT_SERVER_ERRORS", "KEEP_RESUMABLE_S", "AgentServer", "Encoder", "router", "serving"]

KEEP_RESUMABLE_S = 600.0
"""How long a resumable run's events stay after it ended (a client reconnecting with `Last-Event-ID`)."""

router = APIRouter()
for _module in (_assistants, _threads, _runs):
    router.include_router(_module.router)


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[None]:
    """Open the thread table and the run bookkeeping for the app's lifetime (inside the lifespan that
    opened the agent); on the way out, cancel this process's runs (each restores its thread)."""
    state = app.state.factory
    async with open_thread_store(state.checkpointer_url) as threads, \
            open_runs(state.broker_url, agent=state.name) as runs:
        app.state.agent_server = AgentServer(threads=threads, runs=runs, started_at=datetime.now(UTC),
                                             keep_s=KEEP_RESUMABLE_S)
        try:
            yield
        finally:
            del app.state.agent_server
