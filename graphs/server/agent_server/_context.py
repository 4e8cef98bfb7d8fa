"""What every Agent Server API route shares: the stores, the error answers, JSON encoding.

Errors are the server's one shape, `{"detail": MESSAGE, "code": ERROR_CODE}` (the SDKs read
`detail`), raised as `ApiError` anywhere in a route; request problems found after parsing are
`RequestValidationError`s, so every 422 has FastAPI's shape with the field's `loc`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from langchain_core.messages import BaseMessage
from langgraph.types import Interrupt
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from graphs.agent import Agent, ThreadBusy
from graphs.events import ERROR_CODES, ErrorCode
from graphs.plan import Plan
from graphs.runs import Runs
from graphs.server._errors import AsciiJSONResponse
from graphs.server._state import ServerState, server_state
from graphs.threads import ThreadRecord, ThreadStore

__all__ = [
    "AgentServer",
    "ApiError",
    "ApiRoute",
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
            raise ApiError(404, "not_found",
                           f"assistant {assistant_id!r} not found: this server serves {self.graph_id!r} "
                           "(the assistant id is the graph id, the spec's name)")

    async def thread(self, thread_id: str) -> ThreadRecord:
        record = await self.api.threads.get(thread_id)
        if record is None:
            raise ApiError(404, "not_found",
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
        raise ApiError(503, "not_ready", "the Agent Server API is still starting")
    return Context(state, api, agent)


class ApiError(Exception):
    """An answer other than success: `status` and `code` from `graphs.events.ERROR_CODES`."""

    def __init__(self, status: int, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        assert code in ERROR_CODES
        self.status, self.code, self.message = status, code, message


def invalid(loc: tuple[str | int, ...], message: str, value: Any = None) -> RequestValidationError:
    """A 422 naming the field (`loc` as FastAPI writes it, e.g. `("body", "input", "messages")`)."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": message, "input": value}])


class ApiRoute(APIRoute):
    """Routes whose `ApiError`s and `ThreadBusy` become JSON answers, and whose unexpected failures
    are logged once and answered with a clean `internal_error` instead of a traceback."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return _error(exc.status, exc.code, exc.message)
            except ThreadBusy as exc:
                return _error(409, "thread_busy",
                              f"a run is already running on thread {exc.thread_id!r}; wait for it to end, "
                              "or cancel it (multitask_strategy `reject`)")
            except RequestValidationError:
                raise
            except HTTPException as exc:
                if exc.status_code == 400 and exc.detail == _UNPARSABLE:  # bytes that are not UTF-8 text
                    raise invalid(("body",), "the body is not JSON text (UTF-8)") from None
                raise
            except Exception:
                logger.exception("%s %s failed", request.method, request.url.path)
                return _error(500, "internal_error", "the server failed; its log has the details")

        return handle


_UNPARSABLE = "There was an error parsing the body"
"""FastAPI's answer to a body it cannot decode; the API answers every malformed body with 422."""


def _error(status: int, code: ErrorCode, message: str) -> Response:
    return AsciiJSONResponse({"detail": message, "code": code}, status_code=status)


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
