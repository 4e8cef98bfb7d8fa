"""A compiled agent and its turns: the one place a user message becomes a stream of events.

Two layers, each used by every surface:

- `Agent.session(thread_id)` is the turn session: it holds the thread's lock (`ThreadBusy` when
  another turn has it), reads the thread as it was, seeds a fresh thread's slot defaults, and
  restores the thread when the block fails or is cancelled (shielded, so a client that goes away
  cannot leave half a turn behind). LangServe's raw graph runs use it directly.
- `Agent.turn(message)` runs one user turn inside a session and yields the typed events of
  `graphs.events`; `Agent.open_turn(...)` does the same but takes the lock before returning, so a
  server can answer 409 before it sends a byte.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from graphs import fixtures
from graphs._turn import Fold, OpenTurn, question_tokens, saved_reply
from graphs.builder import agent_tool_names, build_graph, make_toolbox, spec_folder
from graphs.checkpointers import open_checkpointer
from graphs.drain import TurnGate, TurnStopped
from graphs.errors import AgentConfigError, classify_error
from graphs.events import (
    EndEvent,
    ErrorEvent,
    Event,
    InterruptEvent,
    MetadataEvent,
    StateEvent,
    TokenEvent,
)
from graphs.locks import LocalThreadLocks, ThreadBusy, ThreadLocks, open_thread_locks
from graphs.mcp import McpServers
from graphs.plan import Plan
from graphs.state import initial_values
from graphs.telemetry import TurnWatch, admitted
from graphs.tools import Toolbox, ToolError

__all__ = ["Agent", "OpenTurn", "ThreadBusy", "TurnSession"]


@dataclass
class TurnSession:
    """One thread held for one run: what it was before, and how to put it back.

    Attributes:
        thread_id: the held thread.
        run_id: this run's id (the `metadata` event's `run_id`).
        config: the run config for LangGraph (thread id and the thread's test fixtures).
        before: the thread's snapshot when the session began (LangGraph's `StateSnapshot`).
    """

    agent: Agent
    thread_id: str
    run_id: str
    config: RunnableConfig
    before: Any

    @property
    def fresh(self) -> bool:
        """True when the thread has no state yet."""
        return not self.before.values

    @property
    def pending_interrupt(self) -> dict[str, Any] | None:
        """The question of the interrupt the thread is paused at, if any."""
        interrupts = self.before.interrupts
        return interrupts[0].value if interrupts else None

    def seed(self, values: dict[str, Any]) -> dict[str, Any]:
        """Graph input for raw runs: a fresh thread gets the slot defaults under `values`."""
        return {**initial_values(self.agent.plan["state"]), **values} if self.fresh else values

    def input_for(self, message: str, *, message_id: str | None = None) -> Any:
        """The graph input of a user message: the answer to a pending interrupt, else a new message
        (with the client's `message_id`, when it gave one, so it recognises the message in the thread)."""
        if self.before.interrupts:
            return Command(resume=message)
        return self.seed({"messages": [HumanMessage(content=message, id=message_id)]})

    async def restore(self) -> None:
        """Leave the thread as it was when the session began: the next turn sees no half-written work."""
        graph = self.agent.graph
        after = await graph.aget_state(self.config)
        if _checkpoint_id(after.config) == _checkpoint_id(self.before.config):
            return
        if self.fresh:
            await graph.checkpointer.adelete_thread(self.thread_id)
            return
        await graph.aupdate_state(self.before.config, None)


def _checkpoint_id(config: Any) -> Any:
    return ((config or {}).get("configurable") or {}).get("checkpoint_id")


_DONE = object()


@dataclass(frozen=True)
class _Failed:
    error: Exception


class Agent:
    """A plan compiled against a checkpointer. Use `Agent.open(...)` as an async context manager."""

    def __init__(self, plan: Plan, graph: Any, *, locks: ThreadLocks | None = None) -> None:
        self.plan, self.graph = plan, graph
        self.locks: ThreadLocks = locks or LocalThreadLocks()
        self.gate = TurnGate()  # graceful shutdown (`graphs.drain`)
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
        locks: ThreadLocks | None = None,
    ) -> AsyncIterator[Agent]:
        """Compile `plan` against the checkpointer at `checkpointer`; thread locks default to the ones
        that hold wherever that checkpointer's threads can be read (`graphs.locks.open_thread_locks`)."""
        async with AsyncExitStack() as stack:
            saver = await stack.enter_async_context(open_checkpointer(checkpointer, base_dir=base_dir))
            if locks is None:
                locks = await stack.enter_async_context(open_thread_locks(checkpointer, base_dir=base_dir))
            toolbox = await _open_toolbox(plan, base_dir, stack)
            graph = build_graph(plan, checkpointer=saver, base_dir=base_dir, model_override=model_override,
                                toolbox=toolbox)
            yield cls(plan, graph, locks=locks)

    def is_busy(self, thread_id: str) -> bool:
        """True when a turn of this process holds the thread."""
        return self.locks.is_held(thread_id)

    async def state(self, thread_id: str) -> dict[str, Any]:
        """The slots of a thread (without messages)."""
        snapshot = await self.graph.aget_state({"configurable": {"thread_id": thread_id}})
        return {k: v for k, v in (snapshot.values or {}).items() if k != "messages"}

    async def messages(self, thread_id: str) -> list[Any]:
        snapshot = await self.graph.aget_state({"configurable": {"thread_id": thread_id}})
        return list((snapshot.values or {}).get("messages", []))

    @asynccontextmanager
    async def session(
        self,
        thread_id: str | None = None,
        *,
        script: dict[str, list[Any]] | None = None,
        mocks: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> AsyncIterator[TurnSession]:
        """Hold a thread for one run; restore it if the block fails or is cancelled.

        `script`/`mocks` (tests) are kept for the thread and steer every later turn on it too.

        Raises:
            ThreadBusy: another turn holds the thread.
        """
        thread_id, run_id = thread_id or uuid.uuid4().hex, run_id or uuid.uuid4().hex
        # ShuttingDown (503) while the process drains, ThreadBusy (409): both counted (`graphs.telemetry`)
        async with admitted(self.plan["name"], self.gate.admit(run_id), self.locks.hold(thread_id)):
            if script is not None or mocks is not None:
                self._fixtures[thread_id] = fixtures.Fixtures(script=dict(script or {}), mocks=dict(mocks or {}))
            config: RunnableConfig = {"configurable": {"thread_id": thread_id,
                                                       fixtures.CONFIG_KEY: self._fixtures.get(thread_id)}}
            before = await self.graph.aget_state(config)
            session = TurnSession(self, thread_id, run_id, config, before)
            try:
                yield session
            except BaseException:
                # Shielded: the block may be under cancellation (client gone) and must still be undone.
                with anyio.CancelScope(shield=True):
                    await session.restore()
                raise

    async def turn(
        self,
        message: str,
        *,
        thread_id: str | None = None,
        script: dict[str, list[Any]] | None = None,
        mocks: dict[str, Any] | None = None,
        run_id: str | None = None,
        step_events: bool = False,
        message_id: str | None = None,
    ) -> AsyncIterator[Event]:
        """Run one user turn and yield its events. A pending interrupt is resumed by `message`.

        `run_id` names the run (a server that announces it before the turn starts); `message_id` is
        the id the user's message gets in the thread; `step_events` adds the graph's state after
        each step (`ValuesEvent`) and each step's writes (`UpdateEvent`), which the Agent Server
        API's `values` and `updates` modes carry.

        Raises:
            ThreadBusy: another turn is running on this thread (callers answer 409).
        """
        batches = self._turn(message, thread_id=thread_id, script=script, mocks=mocks, run_id=run_id,
                             step_events=step_events, message_id=message_id)
        try:
            async for batch in batches:
                for event in batch:
                    yield event
        finally:
            with anyio.CancelScope(shield=True):
                await batches.aclose()

    async def _turn(
        self,
        message: str,
        *,
        thread_id: str | None,
        script: dict[str, list[Any]] | None,
        mocks: dict[str, Any] | None,
        run_id: str | None,
        step_events: bool,
        message_id: str | None,
    ) -> AsyncGenerator[list[Event], None]:
        """`turn`'s events in lists of those ready together (`OpenTurn.batches`)."""
        async with self.session(thread_id, script=script, mocks=mocks, run_id=run_id) as session:
            watch = TurnWatch(self.plan["name"], thread_id=session.thread_id, run_id=session.run_id)
            if watch.callbacks:  # traces: a span per model call
                session.config["callbacks"] = watch.callbacks
            run = self._run(session, message, step_events=step_events, message_id=message_id)
            try:
                async for batch in run:
                    for event in batch:
                        watch.saw(event)
                    yield batch
            finally:
                watch.close()
                # Close the run (and cancel its graph task) before the session restores the thread:
                # nothing of this turn may write after the restore. Shielded: we may be cancelled.
                with anyio.CancelScope(shield=True):
                    await run.aclose()

    async def open_turn(
        self,
        message: str,
        *,
        thread_id: str | None = None,
        script: dict[str, list[Any]] | None = None,
        mocks: dict[str, Any] | None = None,
        run_id: str | None = None,
        step_events: bool = False,
        message_id: str | None = None,
    ) -> OpenTurn:
        """Start a turn and hold its thread before returning (so a server can answer 409 first).

        Raises:
            ThreadBusy: another turn is running on this thread.
        """
        stream = self._turn(message, thread_id=thread_id, script=script, mocks=mocks, run_id=run_id,
                            step_events=step_events, message_id=message_id)
        [first] = await anext(stream)
        assert isinstance(first, MetadataEvent), "a turn starts with its metadata"
        return OpenTurn(first, stream)

    async def _run(
        self, session: TurnSession, message: str, *, step_events: bool, message_id: str | None
    ) -> AsyncGenerator[list[Event], None]:
        yield [MetadataEvent(thread_id=session.thread_id, run_id=session.run_id, agent=self.plan["name"])]
        fold = Fold()
        saved = saved_reply(session.before, message_id)
        if saved is not None:  # a retry of a saved turn whose `end` its client never got: answer it again
            answer: list[Event] = []
            if saved:
                fold.token(saved)
                answer.append(TokenEvent(text=saved, node=""))
            answer.append(StateEvent(values=await self.state(session.thread_id)))
            answer.append(EndEvent(reply=saved, usage={}, path=[], interrupted=bool(session.before.interrupts),
                                   first_token_ms=fold.ms(fold.first_token), total_ms=fold.ms(time.perf_counter())))
            yield answer
            return
        # The graph runs in its own task, feeding a queue: closing this generator (client gone, a
        # `cancel` frame) then cancels that task, which LangGraph turns into cancelling the running
        # node and its model request. (Closing LangGraph's stream at a `yield` leaves the node running.)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        graph_input = session.input_for(message, message_id=message_id)
        pump = asyncio.create_task(self._pump(graph_input, session.config, queue, step_events))

        def stop() -> None:  # a shutdown's grace period is over: end the turn with a clean `error`
            pump.cancel()
            pump.add_done_callback(lambda _: queue.put_nowait(_Failed(TurnStopped())))

        self.gate.on_stop(session.run_id, stop)
        try:
            while True:
                # Everything waiting goes out as one list: a burst of tokens is one write, not fifty.
                items = [await queue.get()]
                while not queue.empty():
                    items.append(queue.get_nowait())
                ready: list[Event] = []
                for item in items:
                    if item is _DONE or isinstance(item, _Failed):
                        break
                    event = fold.event_of(item, step_events)
                    if event is not None:
                        ready.append(event)
                if ready:
                    yield ready
                if isinstance(item, _Failed):
                    raise item.error
                if item is _DONE:
                    break
        except (asyncio.CancelledError, GeneratorExit):
            with anyio.CancelScope(shield=True):
                pump.cancel()
                await asyncio.wait([pump])
            raise  # the session restores the thread
        except Exception as exc:  # every model/tool/node failure becomes an `error` event
            await session.restore()
            code, retryable, text = classify_error(exc)
            yield [ErrorEvent(code=code, message=text, retryable=retryable)]
            return
        if fold.question is not None:
            yield [*question_tokens(fold.question, fold),
                   InterruptEvent(question=fold.question["question"], node=fold.question["node"])]
        yield [
            StateEvent(values=await self.state(session.thread_id)),
            EndEvent(
                reply="".join(fold.reply),
                usage=fold.usage,
                path=fold.path,
                interrupted=fold.question is not None,
                first_token_ms=fold.ms(fold.first_token),
                total_ms=fold.ms(time.perf_counter()),
            ),
        ]

    async def _pump(
        self, graph_input: Any, config: RunnableConfig, queue: asyncio.Queue[Any], step_events: bool
    ) -> None:
        modes = ["custom", "updates", "values"] if step_events else ["custom", "updates"]
        try:
            # durability="exit": one checkpoint when the turn ends, none between its nodes. A turn is
            # all or nothing for the thread anyway (see `TurnSession.restore`), and the writes saved
            # come before the model call, i.e. off the time to first token.
            async for ns, mode, chunk in self.graph.astream(
                graph_input, config, stream_mode=modes, subgraphs=True, durability="exit"
            ):
                if mode == "values" and ns:
                    continue  # a subgraph's own state is not the thread's
                queue.put_nowait((mode, chunk, not ns))
        except Exception as exc:
            queue.put_nowait(_Failed(exc))
        else:
            queue.put_nowait(_DONE)


async def _open_toolbox(plan: Plan, base_dir: str | Path, stack: AsyncExitStack) -> Toolbox:
    """The plan's tools; MCP servers close with the agent, and the schemas of the MCP tools that
    `agent` nodes offer are fetched now (a server that cannot start stops the start, clearly)."""
    servers = plan.get("mcp_servers")
    mcp = McpServers(servers, folder=spec_folder(plan, base_dir)) if servers else None
    if mcp is not None:
        stack.push_async_callback(mcp.close)
    toolbox = make_toolbox(plan, base_dir=base_dir, mcp=mcp)
    try:
        await toolbox.prepare(agent_tool_names(plan))
    except ToolError as exc:
        raise AgentConfigError(f"{plan['name']}: {exc}") from None
    return toolbox
