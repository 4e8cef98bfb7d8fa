"""What every Agent Server API route shares: the stores, the error family, JSON encoding.

Errors go through the server's one mapping (`graphs.server._errors`): a route raises `ApiError` (or
`ThreadBusy`, or a `RequestValidationError` from `invalid` for a problem found after parsing), and
this API's family renders it as LangGraph's server does, `{"detail": MESSAGE, "code": ERROR_CODE}`
(the SDKs read `detail`); a 422's `detail` is FastAPI's list of `{loc, msg, type}`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from langchain_core.messages import BaseMessage
from langgraph.types import Interrupt
from pydantic import BaseModel, ConfigDict, Field

from graphs.agent import Agent
from graphs.events import ErrorCode
from graphs.plan import Plan
from graphs.runs import Runs
from graphs.server._errors import ApiError, ErrorFamily
from graphs.server._state import ServerState, server_state
from graphs.threads import ThreadRecord, ThreadStore

__all__ = [
    "AGENT_SERVER_ERRORS",
    "AgentServer",
    "ApiError",
    "Context",
    "context",
    "dumps",
    "invalid",
    "jsonable",
]

logger = logging.getLogger("graphs.server.agent_server")


@dataclass
class AgentServer:
    """The Agent Server API's parts, on `app.state.agent_server` while the app runs.

    Attributes:
        threads: the thread table (in the checkpointer's database).
        runs: run records, run streams and the run tasks.
        started_at: when the server started (the assistant's `created_at`).
        keep_s: how long a resumable run's events stay after it ended.
    """

    threads: ThreadStore
    runs: Runs
    started_at: datetime
    keep_s: float


@dataclass(frozen=True)
class Context:
    """One request's view: the server state, the API's parts and the running agent."""

    state: ServerState
    api: AgentServer
    agent: Agent

    @property
    def plan(self) -> Plan:
        return cast(Plan, self.state.plan)

    @property
    def graph_id(self) -> str:
        return str(self.state.plan["name"])

    @property
    def tags(self) -> dict[str, str]:
        """The metadata that ties a thread to the served graph (Agent Chat UI lists threads by `graph_id`)."""
        return {"graph_id": self.graph_id, "assistant_id": self.graph_id}

    def check_assistant(self, assistant_id: str) -> None:
        if assistant_id != self.graph_id:
            raise ApiError("not_found",
                           f"assistant {assistant_id!r} not found: this server serves {self.graph_id!r} "
                           "(the assistant id is the graph id, the spec's name)")

    async def thread(self, thread_id: str) -> ThreadRecord:
        record = await self.api.threads.get(thread_id)
        if record is None:
            raise ApiError("not_found",
                           f"thread {thread_id!r} not found: create it with POST /threads first")
        return record

    async def is_busy(self, thread_id: str) -> bool:
        """A turn holds the thread here (any surface), or a run of it is pending or running."""
        return self.agent.is_busy(thread_id) or await self.api.runs.store.active(thread_id) is not None


def context(request: Request) -> Context:
    state = server_state(request)
    api: AgentServer | None = getattr(request.app.state, "agent_server", None)
    agent = state.require_agent()  # 503 while starting
    if api is None:
        raise ApiError("not_ready", "the Agent Server API is still starting")
    return Context(state, api, agent)


def invalid(loc: tuple[str | int, ...], message: str, value: Any = None) -> RequestValidationError:
    """A 422 naming the field (`loc` as FastAPI writes it, e.g. `("body", "input", "messages")`)."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": message, "input": value}])


# ---------------------------------------------------------------------------------- errors


class ValidationDetail(BaseModel):
    """One invalid field, as FastAPI writes it."""

    loc: list[str | int] = Field(description="Where: `body`, `path`, `query` or `header`, then the field's path.")
    msg: str = Field(description="What the field must be.")
    type: str = Field(description="The kind of problem (`missing`, `literal_error`, `value_error`, ...).")


class AgentServerProblem(BaseModel):
    """An Agent Server API error: what LangGraph's server answers, with the factory's error code."""

    model_config = ConfigDict(title="AgentServerProblem")

    detail: str | list[ValidationDetail] = Field(
        description="What is wrong and how to fix it; for a 422, every invalid field.")
    code: ErrorCode = Field(description="One of the error codes in `docs/errors.md`.")


def _problem(error: ApiError, request_id: str | None) -> dict[str, Any]:
    del request_id  # in the `X-Request-Id` header, as on every route
    if not error.errors:
        return {"detail": error.message, "code": error.code}
    detail = [{"loc": list(p.loc) or [p.location, *filter(None, p.field.split("."))], "msg": p.expected,
               "type": p.kind} for p in error.errors]
    return {"detail": detail, "code": error.code}


AGENT_SERVER_ERRORS = tuple(ErrorFamily(prefix, _problem, AgentServerProblem)
                            for prefix in ("/assistants", "/threads", "/runs", "/info", "/ok"))
"""The Agent Server API's routes answer errors in its shape (`graphs.server._errors.add_error_family`)."""


# ---------------------------------------------------------------------------------- JSON


def _default(value: Any) -> Any:
    if isinstance(value, BaseMessage):
        return value.model_dump()
    if isinstance(value, Interrupt):
        return {"value": value.value, "id": value.id}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value: Any) -> bytes:
    """JSON as LangGraph's server writes it: messages as LangChain dicts, interrupts as
    `{value, id}`; anything else not JSON-native as its string."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):  # text orjson refuses (a lone surrogate from a tool)
        return json.dumps(value, default=_default, ensure_ascii=True, separators=(",", ":")).encode()


def jsonable(value: Any) -> Any:
    """`value` as plain JSON data (what `dumps` writes, read back)."""
    return orjson.loads(dumps(value))
