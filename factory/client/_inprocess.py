"""The agent in this process: `graphs.agent.Agent` compiled from the plan, no server, no wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from factory.client._base import ClientBase, ClientError, Fixtures
from graphs.events import Event

if TYPE_CHECKING:
    from factory.language.models import Spec
    from graphs.agent import Agent
    from graphs.plan import Plan

__all__ = ["InProcessClient"]


class InProcessClient(ClientBase):
    """`Agent.turn` in this process; cancelling the iterating task reaches the graph directly."""

    def __init__(self, plan: Plan, *, base_dir: str | Path, checkpointer: str = "memory",
                 model: str | None = None, spec: Spec | None = None) -> None:
        self.plan, self.base_dir = plan, base_dir
        self.checkpointer, self.model = checkpointer, model
        self.spec = spec
        self.agent = plan["name"]
        self.label = f"in-process{f' ({model})' if model else ''}"
        self.description = f"inprocess (model {model or 'as in the spec'})"
        self._stack = AsyncExitStack()
        self._agent: Agent | None = None

    async def open(self) -> None:
        from graphs.agent import Agent
        from graphs.models import ModelConfigError

        try:
            self._agent = await self._stack.enter_async_context(
                Agent.open(self.plan, checkpointer=self.checkpointer, base_dir=self.base_dir,
                           model_override=self.model))
        except ModelConfigError as exc:
            hint = None if "--model scripted" in str(exc) else "run offline with `--model scripted`"
            raise ClientError(str(exc), hint, kind="config") from None
        except (OSError, ValueError) as exc:
            raise ClientError(f"cannot open the checkpointer {self.checkpointer!r}: {exc}",
                              "pass --checkpointer memory, or fix the spec's serve.checkpointer",
                              kind="config") from None

    async def close(self) -> None:
        await self._stack.aclose()
        self._agent = None

    def _opened(self) -> Agent:
        if self._agent is None:
            raise RuntimeError("open the client first (`async with client:` or `await client.open()`)")
        return self._agent

    async def turn(self, message: str, *, thread_id: str | None = None, script: Fixtures | None = None,
                   mocks: Fixtures | None = None) -> AsyncIterator[Event]:
        from graphs.agent import ThreadBusy

        try:
            async for event in self._opened().turn(message, thread_id=thread_id, script=script, mocks=mocks):
                yield event
        except ThreadBusy:
            raise ClientError(f"a turn is already running on thread {thread_id}",
                              "wait for it to finish, or /new for another thread", kind="busy") from None

    async def cancel(self) -> None:
        """Cancelling the iterating task already reached the graph; the agent restored the thread."""

    async def state(self, thread_id: str) -> dict[str, Any] | None:
        return dict(await self._opened().state(thread_id))

    async def graph(self) -> str | None:
        """Drawn from the spec when the client was given one (the plan alone is not drawn)."""
        if self.spec is None:
            return None
        from factory.cli.graph import mermaid

        return mermaid(self.spec)
