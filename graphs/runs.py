"""Run bookkeeping: which runs exist, what they streamed, and how to stop one.

A *run* is one turn a server started for a client that may not be listening the whole time (a
background run, a stream whose client went away with `on_disconnect: continue`, a client that
reconnects with `Last-Event-ID`). Its parts sit behind three small interfaces, so that several
replicas can share them later (a Redis implementation) without any route changing:

- `RunStore`: the run records (status, metadata), by run id and by thread.
- `RunStream`: a run's frames in order, each with an id. `publish` appends; `subscribe(after=ID)`
  replays what is kept after that id and then follows the live run; `request_cancel` reaches
  whichever process runs it (`on_cancel`).
- `Runs`: starts a turn (`Agent.open_turn`, so the thread is already held) as a task that encodes
  its events into frames, publishes them, and records how the run ended.

What a frame holds is the protocol's business (the Agent Server API publishes its own SSE events);
this module never looks inside. The `Local*` classes keep everything in this process.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import anyio

from graphs.agent import OpenTurn
from graphs.events import EndEvent, ErrorEvent, Event

__all__ = [
    "ACTIVE",
    "CancelHooks",
    "TAIL",
    "Encode",
    "LocalRunStore",
    "LocalRunStream",
    "RunRecord",
    "RunStatus",
    "RunStore",
    "RunStream",
    "Runs",
    "StreamItem",
    "StreamName",
]

logger = logging.getLogger(__name__)

RunStatus = Literal["pending", "running", "error", "success", "timeout", "interrupted"]
ACTIVE: frozenset[RunStatus] = frozenset({"pending", "running"})
TAIL = "$"
"""`subscribe(after=TAIL)`: only frames published from now on (Redis streams spell it the same)."""

Encode = Callable[[Event], Iterable[tuple["StreamName", bytes]]]
"""A protocol's encoder: one event of the turn -> the (event name, data) frames it becomes."""


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as the stores keep it. `error` is set when the run ended with `status == "error"`."""

    run_id: str
    thread_id: str
    assistant_id: str
    status: RunStatus
    metadata: dict[str, Any]
    kwargs: dict[str, Any]
    multitask_strategy: str = "reject"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    error: dict[str, Any] | None = None


StreamName = Literal["metadata", "values", "updates", "messages", "custom", "tools", "error"]
"""The event names of a run's stream on the wire (the Agent Server API's; `messages` is the
`messages-tuple` stream mode's)."""


@dataclass(frozen=True, slots=True)
class StreamItem:
    """One frame of a run's stream: `id` orders it (and is what `Last-Event-ID` names)."""

    id: str
    name: StreamName
    data: bytes

    @property
    def mode(self) -> str | None:
        """The stream mode that asks for this frame; None for frames every stream gets (metadata, error)."""
        if self.name in ("metadata", "error"):
            return None
        return "messages-tuple" if self.name == "messages" else self.name


class RunStore(Protocol):
    """Run records by id and by thread."""

    async def put(self, run: RunRecord) -> None: ...

    async def get(self, run_id: str) -> RunRecord | None: ...

    async def finish(self, run_id: str, status: RunStatus, *, error: dict[str, Any] | None = None) -> None:
        """Record how the run ended."""
        ...

    async def list(
        self, thread_id: str, *, limit: int, offset: int, status: RunStatus | None = None
    ) -> list[RunRecord]:
        """A thread's runs, newest first."""
        ...

    async def active(self, thread_id: str) -> RunRecord | None:
        """The thread's run that is pending or running, if any."""
        ...

    async def forget_thread(self, thread_id: str) -> None:
        """Drop a deleted thread's runs."""
        ...


class RunStream(Protocol):
    """Each run's frames, in order, for its live listeners and for reconnects."""

    async def open(self, run_id: str, *, keep_s: float) -> None:
        """Start a run's stream; after `close` its frames stay `keep_s` seconds for reconnects."""
        ...

    async def publish(self, run_id: str, name: StreamName, data: bytes) -> str:
        """Append a frame; returns its id."""
        ...

    async def close(self, run_id: str) -> None:
        """No more frames: every subscriber's iteration ends once it has read what was published."""
        ...

    def subscribe(self, run_id: str, *, after: str | None = None) -> AsyncIterator[list[StreamItem]]:
        """The frames after `after` (None: every kept frame; `TAIL`: only new ones), then the live
        ones until `close`, in lists of the frames there were when the reader looked (a burst of
        tokens is one list: one write for a server). Nothing when the run's frames are no longer kept.

        Raises:
            ValueError: `after` is not an id this stream hands out (checked before iterating).
        """
        ...

    async def request_cancel(self, run_id: str) -> None:
        """Ask whichever process runs `run_id` to cancel it."""
        ...

    def on_cancel(self, run_id: str, callback: Callable[[], object]) -> Callable[[], None]:
        """Call `callback` when a cancel of `run_id` is requested; returns the unsubscribe."""
        ...


# ---------------------------------------------------------------------------------- in process


class LocalRunStore:
    """Run records in this process. Finished runs are forgotten oldest first beyond `keep_finished`."""

    def __init__(self, *, keep_finished: int = 10_000) -> None:
        self._runs: dict[str, RunRecord] = {}
        self._finished: deque[str] = deque()
        self._keep = keep_finished

    async def put(self, run: RunRecord) -> None:
        self._runs[run.run_id] = run

    async def get(self, run_id: str) -> RunRecord | None:
        return self._runs.get(run_id)

    async def finish(self, run_id: str, status: RunStatus, *, error: dict[str, Any] | None = None) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        self._runs[run_id] = replace(run, status=status, error=error, updated_at=datetime.now(UTC))
        self._finished.append(run_id)
        while len(self._finished) > self._keep:
            self._runs.pop(self._finished.popleft(), None)

    async def list(
        self, thread_id: str, *, limit: int, offset: int, status: RunStatus | None = None
    ) -> list[RunRecord]:
        runs = [r for r in self._runs.values() if r.thread_id == thread_id and (status is None or r.status == status)]
        runs.sort(key=lambda r: r.created_at, reverse=True)
        return runs[offset:offset + limit]

    async def active(self, thread_id: str) -> RunRecord | None:
        return next((r for r in self._runs.values() if r.thread_id == thread_id and r.status in ACTIVE), None)

    async def forget_thread(self, thread_id: str) -> None:
        for run_id in [r.run_id for r in self._runs.values() if r.thread_id == thread_id]:
            del self._runs[run_id]


class _Log:
    __slots__ = ("changed", "closed", "items", "keep_s")

    def __init__(self, keep_s: float) -> None:
        self.items: list[StreamItem] = []
        self.closed = False
        self.changed = asyncio.Event()
        self.keep_s = keep_s


class CancelHooks:
    """This process's callbacks that cancel a run's task, by run id (every `RunStream` keeps one)."""

    def __init__(self) -> None:
        self._by_run: dict[str, list[Callable[[], object]]] = {}

    def add(self, run_id: str, callback: Callable[[], object]) -> Callable[[], None]:
        """Call `callback` when the run is cancelled here; the answer removes it again."""
        self._by_run.setdefault(run_id, []).append(callback)

        def remove() -> None:
            callbacks = self._by_run.get(run_id, [])
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks:
                self._by_run.pop(run_id, None)

        return remove

    def fire(self, run_id: str) -> None:
        for callback in list(self._by_run.get(run_id, ())):
            callback()


class LocalRunStream:
    """Frames in this process; ids are the frame's position (`"0"`, `"1"`, ...; `"-1"` is before the first)."""

    def __init__(self) -> None:
        self._logs: dict[str, _Log] = {}
        self._cancels = CancelHooks()

    async def open(self, run_id: str, *, keep_s: float) -> None:
        self._logs[run_id] = _Log(keep_s)

    async def publish(self, run_id: str, name: StreamName, data: bytes) -> str:
        log = self._logs[run_id]
        item = StreamItem(str(len(log.items)), name, data)
        log.items.append(item)
        changed, log.changed = log.changed, asyncio.Event()
        changed.set()
        return item.id

    async def close(self, run_id: str) -> None:
        log = self._logs.get(run_id)
        if log is None:
            return
        log.closed = True
        log.changed.set()
        if log.keep_s > 0:
            asyncio.get_running_loop().call_later(log.keep_s, self._drop, run_id, log)
        else:
            self._drop(run_id, log)

    def _drop(self, run_id: str, log: _Log) -> None:
        if self._logs.get(run_id) is log:
            del self._logs[run_id]

    def subscribe(self, run_id: str, *, after: str | None = None) -> AsyncIterator[list[StreamItem]]:
        start = _position(after)
        log = self._logs.get(run_id)  # taken now: a run that closes before iteration starts is still read
        if log is None:
            return _nothing()
        index = len(log.items) if start is None else min(start, len(log.items))
        return _follow(log, index)

    async def request_cancel(self, run_id: str) -> None:
        self._cancels.fire(run_id)

    def on_cancel(self, run_id: str, callback: Callable[[], object]) -> Callable[[], None]:
        return self._cancels.add(run_id, callback)


def _position(after: str | None) -> int | None:
    """The index of the first frame to send (None: the current end, for `TAIL`)."""
    if after is None:
        return 0
    if after == TAIL:
        return None
    try:
        index = int(after)
    except ValueError:
        raise ValueError(f"{after!r} is not an event id of this server (a whole number, or -1 for the start)") from None
    if index < -1:
        raise ValueError(f"{after!r} is not an event id of this server (a whole number, or -1 for the start)")
    return index + 1


async def _nothing() -> AsyncIterator[list[StreamItem]]:
    return
    yield  # pragma: no cover - makes this an async generator


async def _follow(log: _Log, index: int) -> AsyncIterator[list[StreamItem]]:
    while True:
        changed = log.changed
        if index < len(log.items):
            ready = log.items[index:]
            index += len(ready)
            yield ready
            continue  # more may have come while the reader wrote these
        if log.closed:
            return
        await changed.wait()


# ---------------------------------------------------------------------------------- running


class Runs:
    """Starts runs as tasks of this process and keeps their records and frames."""

    def __init__(self, store: RunStore, stream: RunStream) -> None:
        self.store, self.stream = store, stream
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def start(
        self,
        run: RunRecord,
        turn: OpenTurn,
        encode: Encode,
        *,
        keep_s: float = 0.0,
        after: Callable[[RunRecord], Awaitable[None]] | None = None,
    ) -> None:
        """Record `run` and run `turn` to its end in a task: its frames go to the stream.

        `keep_s` keeps the frames that long after the end (resumable streams); `after` runs once the
        run ended (shielded), with its final record.
        """
        try:
            await self.store.put(run)
            await self.stream.open(run.run_id, keep_s=keep_s)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await turn.aclose()  # the thread is released and left as it was
            raise
        task = asyncio.create_task(self._execute(run, turn, encode, after), name=f"run {run.run_id}")
        self._tasks[run.run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(run.run_id, None))

    async def cancel(self, run_id: str) -> None:
        """Cancel a run wherever it runs: its thread is restored to what it was before the run."""
        await self.stream.request_cancel(run_id)

    async def wait(self, run_id: str) -> RunRecord | None:
        """Wait until the run has ended; its final record (None for an unknown run)."""
        async for _ in self.stream.subscribe(run_id, after=TAIL):
            pass
        return await self.store.get(run_id)

    async def shutdown(self) -> None:
        """Cancel this process's runs (each restores its thread) and wait for them."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _execute(
        self, run: RunRecord, turn: OpenTurn, encode: Encode, after: Callable[[RunRecord], Awaitable[None]] | None
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        unsubscribe = self.stream.on_cancel(run.run_id, task.cancel)
        status: RunStatus = "running"
        error: dict[str, Any] | None = None
        try:
            async for event in turn.events():
                for name, data in encode(event):
                    await self.stream.publish(run.run_id, name, data)
                if isinstance(event, ErrorEvent):
                    status = "timeout" if event.code == "timeout" else "error"
                    error = {"error": event.code, "message": event.message}
                elif isinstance(event, EndEvent):
                    status = "success"
        except asyncio.CancelledError:
            status = "interrupted"
            task.uncancel()
        except Exception as exc:  # a bug in an encoder or a store: the run ends, the server goes on
            logger.exception("run %s of thread %s failed", run.run_id, run.thread_id)
            status, error = "error", {"error": "internal_error", "message": f"{type(exc).__name__}: {exc}"}
        finally:
            unsubscribe()
            with anyio.CancelScope(shield=True):
                await turn.aclose()
                if status == "running":  # the turn stopped without `end` or `error`
                    status, error = "error", {"error": "internal_error", "message": "the turn ended early"}
                await self.store.finish(run.run_id, status, error=error)
                await self.stream.close(run.run_id)
                if after is not None:
                    try:
                        await after(replace(run, status=status, error=error))
                    except Exception:
                        logger.exception("after run %s of thread %s", run.run_id, run.thread_id)
