"""A compiled agent and its turns: the one place a user message becomes a stream of events.

Every surface (CLI run/chat, the test runner, SSE, WebSocket, the OpenAI-compatible route) consumes
`Agent.turn()`, so they share one event vocabulary: `metadata`, `token`, `node`, `tool`,
`interrupt`, `state`, `error`, `end`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from langchain_core.messages import HumanMessage
from langgraph.types import Command

from graphs import fixtures
from graphs.builder import build_graph
from graphs.checkpointers import open_checkpointer
from graphs.errors import classify_error
from graphs.models.scripted import split_tokens
from graphs.plan import Plan
from graphs.state import initial_values

__all__ = ["Agent", "Event", "ThreadBusy"]


@dataclass(frozen=True)
class Event:
    event: str
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.event, "data": self.data}


_DONE = object()


@dataclass(frozen=True)
class _Failed:
    error: Exception


class ThreadBusy(RuntimeError):
    """A turn is already running on this thread."""


@dataclass
class _Turn:
    started: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    reply: list[str] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)

    def token(self, text: str) -> None:
        if self.first_token is None:
            self.first_token = time.perf_counter()
        self.reply.append(text)

    def add_usage(self, data: dict[str, Any]) -> None:
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            if isinstance(data.get(key), int):
                self.usage[key] = self.usage.get(key, 0) + data[key]

    def ms(self, moment: float | None) -> float | None:
        return None if moment is None else round((moment - self.started) * 1000, 2)


class Agent:
    """A plan compiled against a checkpointer. Use `Agent.open(...)` as an async context manager."""

    def __init__(self, plan: Plan, graph: Any) -> None:
        self.plan, self.graph = plan, graph
        self._busy: set[str] = set()
        self._fixtures: dict[str, fixtures.Fixtures] = {}

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        plan: Plan,
        *,
        checkpointer: str = "memory",
        base_dir: str | Path = ".",
        model_override: str | None = None,
    ) -> AsyncIterator[Agent]:
        async with open_checkpointer(checkpointer, base_dir=base_dir) as saver:
            graph = build_graph(plan, checkpointer=saver, base_dir=base_dir, model_override=model_override)
            yield cls(plan, graph)

    def is_busy(self, thread_id: str) -> bool:
        return thread_id in self._busy

    async def state(self, thread_id: str) -> dict[str, Any]:
        """The slots of a thread (without messages)."""
        snapshot = await self.graph.aget_state({"configurable": {"thread_id": thread_id}})
        return {k: v for k, v in (snapshot.values or {}).items() if k != "messages"}

    async def messages(self, thread_id: str) -> list[Any]:
        snapshot = await self.graph.aget_state({"configurable": {"thread_id": thread_id}})
        return list((snapshot.values or {}).get("messages", []))

    async def turn(
        self,
        message: str,
        *,
        thread_id: str | None = None,
        script: dict[str, list[Any]] | None = None,
        mocks: dict[str, Any] | None = None,
    ) -> AsyncIterator[Event]:
        """Run one user turn and yield its events. A pending interrupt is resumed by `message`.

        Raises:
            ThreadBusy: another turn is running on this thread (callers answer 409).
        """
        thread_id = thread_id or uuid.uuid4().hex
        with self.reserve(thread_id):
            if script is not None or mocks is not None:
                self._fixtures[thread_id] = fixtures.Fixtures(script=dict(script or {}), mocks=dict(mocks or {}))
            async for event in self._run(message, thread_id):
                yield event

    @contextmanager
    def reserve(self, thread_id: str) -> Iterator[None]:
        """Mark the thread busy for the block (runs that bypass `turn`, e.g. LangServe's raw graph routes).

        Raises:
            ThreadBusy: a turn already runs on this thread (in this process).
        """
        if thread_id in self._busy:
            raise ThreadBusy(thread_id)
        self._busy.add(thread_id)
        try:
            yield
        finally:
            self._busy.discard(thread_id)

    async def _run(self, message: str, thread_id: str) -> AsyncIterator[Event]:
        config: dict[str, Any] = {"configurable": {"thread_id": thread_id,
                                                   fixtures.CONFIG_KEY: self._fixtures.get(thread_id)}}
        run_id = uuid.uuid4().hex
        yield Event("metadata", {"thread_id": thread_id, "run_id": run_id, "agent": self.plan["name"]})
        turn = _Turn()
        before = await self.graph.aget_state(config)
        if before.interrupts:
            graph_input: Any = Command(resume=message)
        else:
            graph_input = {"messages": [HumanMessage(content=message)]}
            if not before.values:
                graph_input.update(initial_values(self.plan["state"]))
        question: dict[str, Any] | None = None
        # The graph runs in its own task, feeding a queue: closing this generator (client gone, a
        # `cancel` frame) then cancels that task, which LangGraph turns into cancelling the running
        # node and its model request. (Closing LangGraph's stream at a `yield` leaves the node running.)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        pump = asyncio.create_task(self._pump(graph_input, config, queue))
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, _Failed):
                    raise item.error
                mode, chunk = item
                if mode == "updates":
                    pending = chunk.get("__interrupt__") if isinstance(chunk, dict) else None
                    if pending:
                        question = pending[0].value
                    continue
                event, data = chunk["event"], chunk["data"]
                if event == "usage":
                    turn.add_usage(data)
                    continue
                if event == "token":
                    turn.token(data["text"])
                elif event == "node" and data["phase"] == "start":
                    turn.path.append(data["node"])
                yield Event(event, data)
        except (asyncio.CancelledError, GeneratorExit):
            # Shielded: our own task may be under cancellation, and the thread must still be restored.
            with anyio.CancelScope(shield=True):
                pump.cancel()
                await asyncio.wait([pump])
                await self.restore(config, before)
            raise
        except Exception as exc:  # every model/tool/node failure becomes an `error` event
            await self.restore(config, before)
            code, retryable, text = classify_error(exc)
            yield Event("error", {"code": code, "message": text, "retryable": retryable})
            return
        if question is not None:
            pieces = split_tokens(question["question"])
            if turn.reply and not turn.reply[-1].endswith("\n"):
                pieces = ["\n\n", *pieces]  # the question follows what a node already said this turn
            for piece in pieces:
                turn.token(piece)
                yield Event("token", {"text": piece, "node": question["node"]})
            yield Event("interrupt", {"question": question["question"], "node": question["node"]})
        yield Event("state", await self.state(thread_id))
        done = time.perf_counter()
        yield Event(
            "end",
            {
                "reply": "".join(turn.reply),
                "usage": turn.usage,
                "path": turn.path,
                "interrupted": question is not None,
                "first_token_ms": turn.ms(turn.first_token),
                "total_ms": turn.ms(done),
            },
        )

    async def _pump(self, graph_input: Any, config: dict[str, Any], queue: asyncio.Queue[Any]) -> None:
        try:
            # durability="exit": one checkpoint when the turn ends, none between its nodes. A turn is
            # all or nothing for the thread anyway (see `restore`), and the writes saved come
            # before the model call, i.e. off the time to first token.
            async for _ns, mode, chunk in self.graph.astream(
                graph_input, config, stream_mode=["custom", "updates"], subgraphs=True, durability="exit"
            ):
                queue.put_nowait((mode, chunk))
        except Exception as exc:
            queue.put_nowait(_Failed(exc))
        else:
            queue.put_nowait(_DONE)

    async def restore(self, config: dict[str, Any], before: Any) -> None:
        """Leave the thread as it was before the failed turn: the next turn sees no half-written work."""
        after = await self.graph.aget_state(config)
        if after.config.get("configurable", {}).get("checkpoint_id") == (before.config or {}).get(
            "configurable", {}
        ).get("checkpoint_id"):
            return
        if not before.values:
            await self.graph.checkpointer.adelete_thread(config["configurable"]["thread_id"])
            return
        await self.graph.aupdate_state(before.config, None)
