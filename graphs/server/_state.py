"""What every route shares: the running agent and the settings, stored on `app.state.factory`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request, WebSocket

from graphs.agent import Agent
from graphs.plan import Plan, ServePlan
from graphs.server._errors import ApiError
from graphs.server.limits import Limits

__all__ = ["ServerState", "server_state"]


@dataclass
class ServerState:
    """The plan, its serve settings (defaults filled in), and the agent once the lifespan opened it."""

    plan: Plan
    serve: ServePlan
    limits: Limits
    test_mode: bool
    api_keys: frozenset[str]
    checkpointer_url: str
    agent: Agent | None = None
    broker_url: str | None = None
    """The run broker (`graphs.broker`); None: runs stay in this process."""

    @property
    def name(self) -> str:
        return self.plan["name"]

    def require_agent(self) -> Agent:
        """The agent; `not_ready` (503) between process start and the end of the lifespan start-up."""
        if self.agent is None:
            raise ApiError("not_ready", "the agent is still starting (or shutting down); retry in a moment")
        return self.agent

    def check_fixtures(self, script: Any, mocks: Any) -> None:
        """`script`/`mocks` steer the model and the tools: only a server in test mode accepts them."""
        if (script is not None or mocks is not None) and not self.test_mode:
            raise ApiError("forbidden", "`script` and `mocks` are accepted only by a server started with "
                                        "--test-mode (or FACTORY_TEST_MODE=1)",
                           field="script" if script is not None else "mocks")


def server_state(conn: Request | WebSocket) -> ServerState:
    state: ServerState = conn.app.state.factory
    return state


def dumps(data: Any) -> str:
    """Compact JSON for the wire; anything not JSON-native (a datetime from a tool) becomes its string."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
