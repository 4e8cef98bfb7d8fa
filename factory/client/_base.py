"""What every client shares: the `Client` interface, `ClientError`, and the turn contract.

A client runs one user turn on an agent and yields the typed events of `graphs.events`, whatever
the wire (in-process, SSE, WebSocket, the Agent Server API). The contract every client keeps, so
consumers never re-check the stream:

- the first event is a `MetadataEvent` naming the thread the turn actually ran on (a server may
  pick or canonicalise the id);
- the last event is an `EndEvent` (reply, path, interrupted, timings) or an `ErrorEvent`;
- anything else (nothing listens, a refused key, a broken connection, a frame that does not parse)
  raises `ClientError`, a `UserError` with a hint, never a traceback.

A turn is cancelled by cancelling the task that iterates `turn()` and then awaiting `cancel()`,
which does whatever the wire needs to stop the run on the other side.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Protocol

from factory.errors import UserError
from graphs.events import ErrorCode, Event

__all__ = ["Client", "ClientError", "FailureKind", "Fixtures", "WireProtocol"]

FailureKind = Literal["unreachable", "auth", "config", "dropped", "refused", "busy", "protocol"]
"""What went wrong between a client and the agent (see `ClientError`)."""

WireProtocol = Literal["auto", "sse", "ws", "agent-server"]
"""How a client talks to a server: `auto` probes (`GET /ready` answers on a factory server, `GET
/info` on an Agent Server), `sse` is `POST /chat/stream`, `ws` is `/ws/chat/{thread}`, `agent-server`
is the LangGraph Agent Server API (threads and runs) through `langgraph-sdk`."""

Fixtures = dict[str, Any]
"""A test's `script` (node path -> replies) or `mocks` (tool -> result), as the spec writes them."""

_TURN_SCOPED: frozenset[FailureKind] = frozenset({"dropped", "protocol"})


@dataclass
class ClientError(UserError):
    """Something between the client and the agent failed, said in words a user can act on.

    Attributes:
        kind: `unreachable` (nothing listens), `auth` (a key is missing or was refused), `config`
            (the agent cannot be used as asked: a model key is missing, the server runs another
            agent), `dropped` (the connection broke mid-turn), `refused` (the server answered with
            an HTTP error), `busy` (a turn is already running on the thread), `protocol` (the server
            said something that does not parse as the protocol).
        code: the `ErrorCode` a test run records when this ends a turn (`client_error`, or
            `no_end` when the stream stopped without an `end`).
    """

    kind: FailureKind = "refused"
    code: ErrorCode = "client_error"

    @property
    def fatal(self) -> bool:
        """A chat cannot go on after it (a refused key would fail every message)."""
        return self.kind == "auth"

    @property
    def turn_scoped(self) -> bool:
        """It ended one turn (the next may work); the others are about the whole connection."""
        return self.kind in _TURN_SCOPED

    def __str__(self) -> str:
        return self.message


class Client(Protocol):
    """The one interface `factory chat` and `factory test` use to reach an agent."""

    label: str
    """Shown in the chat's banner: `in-process (scripted)`, `sse http://...`, `ws ws://...`."""

    description: str
    """Written in test reports as the target: `inprocess (model scripted)`, or the server's URL."""

    agent: str
    """The agent's name (for a server: known once `open()` has asked it)."""

    async def open(self) -> None:
        """Connect (or compile); raises `ClientError` when the agent cannot be reached or used."""

    async def close(self) -> None:
        """Release connections; safe to call twice."""

    def turn(self, message: str, *, thread_id: str | None = None, script: Fixtures | None = None,
             mocks: Fixtures | None = None) -> AsyncIterator[Event]:
        """Send one user message; yield its events from `metadata` to `end` or `error`.

        `thread_id` None starts a new thread. `script`/`mocks` (tests) steer this thread's turns.
        """
        ...

    async def cancel(self) -> None:
        """Called after the task iterating `turn()` was cancelled: stop the run on the other side."""

    async def state(self, thread_id: str) -> dict[str, Any] | None:
        """The thread's slots when the wire can ask for them, else None."""

    async def graph(self) -> str | None:
        """The graph as Mermaid text when the wire can tell it, else None."""

    async def __aenter__(self) -> Client: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...


class ClientBase:
    """`async with client:` opens and closes it (what `factory test` does around a run)."""

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Any:
        await self.open()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()
