"""What every HTTP surface shares: the running agent, the settings, and starting a turn.

A turn is *opened* before any response byte is sent: the first event (`metadata`) is pulled from
`Agent.turn()`, which reserves the thread. So a busy thread is a clean `409` (or a WebSocket error
frame) instead of a stream that starts and then fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request, WebSocket

from graphs.agent import Agent, OpenTurn, ThreadBusy
from graphs.server.limits import Limits

__all__ = ["OpenTurn", "ServerState", "check_fixtures", "encode", "open_turn", "server_state"]


@dataclass
class ServerState:
    """Everything the routes need, stored on `app.state.factory`."""

    plan: dict[str, Any]
    limits: Limits
    test_mode: bool
    api_keys: frozenset[str]
    checkpointer_url: str
    agent: Agent | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def require_agent(self) -> Agent:
        if self.agent is None:  # only between process start and the end of the lifespan startup
            raise HTTPException(503, "the agent is still starting")
        return self.agent


def server_state(conn: Request | WebSocket) -> ServerState:
    state: ServerState = conn.app.state.factory
    return state


def check_fixtures(state: ServerState, script: Any, mocks: Any) -> None:
    """`script`/`mocks` steer the model and the tools: only a server in test mode accepts them."""
    if (script is not None or mocks is not None) and not state.test_mode:
        raise HTTPException(
            403,
            "`script` and `mocks` are accepted only by a server started with --test-mode (or FACTORY_TEST_MODE=1)",
        )


async def open_turn(
    agent: Agent, message: str, *, thread_id: str | None, script: Any = None, mocks: Any = None
) -> OpenTurn:
    """Start a turn and hold its thread (`Agent.open_turn`).

    Raises:
        ThreadBusy: a turn already runs on this thread.
    """
    return await agent.open_turn(message, thread_id=thread_id, script=script, mocks=mocks)


async def open_turn_http(
    agent: Agent, message: str, *, thread_id: str | None, script: Any = None, mocks: Any = None
) -> OpenTurn:
    """`open_turn` for HTTP routes: a busy thread is `409 Conflict`."""
    try:
        return await open_turn(agent, message, thread_id=thread_id, script=script, mocks=mocks)
    except ThreadBusy:
        raise HTTPException(
            409, f"a turn is already running on thread {thread_id!r}; wait for its `end` event, or cancel it"
        ) from None


def encode(data: Any) -> str:
    """Compact JSON; anything not JSON-native (a datetime from a tool) becomes its string."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
