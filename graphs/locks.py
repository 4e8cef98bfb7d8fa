"""Thread locks: one turn per thread at a time, in one process and across processes and replicas.

A turn session (`Agent.session`) holds its thread's lock from before it reads the thread until it
has written (or restored) it. A second turn on a held thread gets `ThreadBusy` at once: it never
waits, so a client learns "busy" (HTTP 409) instead of a turn that interleaves with another.

`open_thread_locks(url)` picks the locks that fit the checkpointer, because the lock must hold
wherever the thread's state can be read:

- `memory`: `LocalThreadLocks`, a set in this process (nothing else can see the thread).
- `sqlite:///file`: `FileThreadLocks`, an exclusive `flock` on a file per thread beside the
  database, so `factory serve --workers N` on one host runs one turn per thread. The kernel drops a
  dead process's locks.
- `postgres://...`: `PostgresThreadLocks`, a session-level advisory lock per thread, all taken on
  ONE connection per process (a turn costs no connection of its own). A replica that dies (even by
  `kill -9`) closes that connection and Postgres releases every lock it held at once, so no thread
  stays locked behind a dead replica. If the connection is lost while the process lives, it is
  reopened and the held locks re-taken; a turn whose lock another replica took in between is
  cancelled (and so restored) rather than allowed to write beside it.

Every cross-process lock is checked locally first: advisory locks and `flock` are re-entrant for
their holder, and two turns of one process must still exclude each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from graphs.checkpointers import parse_checkpointer_url

__all__ = [
    "FileThreadLocks",
    "LocalThreadLocks",
    "PostgresThreadLocks",
    "ThreadBusy",
    "ThreadLocks",
    "open_thread_locks",
]

log = logging.getLogger("graphs.locks")


class ThreadBusy(RuntimeError):
    """A turn is already running on this thread (answered 409, or a `thread_busy` frame).

    Attributes:
        thread_id: the busy thread.
    """

    def __init__(self, thread_id: str) -> None:
        super().__init__(thread_id)
        self.thread_id = thread_id


class ThreadLocks(Protocol):
    """Who may run a turn on a thread right now."""

    def hold(self, thread_id: str) -> AbstractAsyncContextManager[None]:
        """Hold the thread for the block.

        Raises:
            ThreadBusy: another holder has it (never waits).
        """
        ...

    def is_held(self, thread_id: str) -> bool:
        """True when a turn of this process holds the thread (a cheap local answer)."""
        ...


class LocalThreadLocks:
    """Locks within one process: a set of held thread ids (the event loop makes check-and-add atomic)."""

    def __init__(self) -> None:
        self._held: dict[str, asyncio.Task[Any] | None] = {}

    def is_held(self, thread_id: str) -> bool:
        return thread_id in self._held

    def holder(self, thread_id: str) -> asyncio.Task[Any] | None:
        """The task that holds the thread (to cancel a turn whose cross-process lock was lost)."""
        return self._held.get(thread_id)

    def held(self) -> list[str]:
        return list(self._held)

    @asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[None]:
        if thread_id in self._held:
            raise ThreadBusy(thread_id)
        self._held[thread_id] = asyncio.current_task()
        try:
            yield
        finally:
            self._held.pop(thread_id, None)


def _key(thread_id: str) -> int:
    """A signed 64-bit advisory-lock key for a thread id (collisions are 2^-64 unlikely)."""
    return int.from_bytes(hashlib.blake2b(thread_id.encode(), digest_size=8).digest(), "big", signed=True)


class FileThreadLocks:
    """`flock` on `<folder>/<hash>.lock` per thread: holds across the processes of one host."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._local = LocalThreadLocks()

    def is_held(self, thread_id: str) -> bool:
        return self._local.is_held(thread_id)

    @asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[None]:
        async with self._local.hold(thread_id):
            path = self.folder / f"{_key(thread_id) & 0xFFFFFFFFFFFFFFFF:016x}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise ThreadBusy(thread_id) from None
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


class PostgresThreadLocks:
    """Advisory locks on one connection per process (see the module docstring)."""

    def __init__(self, url: str, *, check_interval_s: float = 2.0) -> None:
        self.url = url
        self.check_interval_s = check_interval_s
        self._local = LocalThreadLocks()
        self._conn: Any = None
        self._io = asyncio.Lock()
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._connect()
        self._watch = asyncio.create_task(self._watch_connection(), name="thread-lock-watch")

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def _connect(self) -> None:
        import psycopg

        self._conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True,
                                                           application_name="factory-thread-locks")

    async def _execute(self, sql: str, key: int) -> Any:
        async with self._io:
            if self._conn is None or self._conn.closed:
                await self._reconnect_locked()
            cursor = await self._conn.execute(sql, (key,))
            row = await cursor.fetchone()
            return row[0] if row else None

    def is_held(self, thread_id: str) -> bool:
        return self._local.is_held(thread_id)

    @asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[None]:
        async with self._local.hold(thread_id):
            key = _key(thread_id)
            if not await self._execute("select pg_try_advisory_lock(%s)", key):
                raise ThreadBusy(thread_id)
            try:
                yield
            finally:
                with contextlib.suppress(Exception):  # a lost connection released it already
                    await self._execute("select pg_advisory_unlock(%s)", key)

    async def _watch_connection(self) -> None:
        """Notice a lost lock connection within `check_interval_s`, reopen it and re-take the locks."""
        while True:
            await asyncio.sleep(self.check_interval_s)
            async with self._io:
                try:
                    await self._conn.execute("select 1")
                    continue
                except Exception:
                    log.warning("the thread-lock connection to Postgres was lost; reopening it")
                with contextlib.suppress(Exception):
                    await self._reconnect_locked()

    async def _reconnect_locked(self) -> None:
        """Reopen the connection and re-take every lock held here; cancel turns that lost theirs."""
        with contextlib.suppress(Exception):
            if self._conn is not None:
                await self._conn.close()
        await self._connect()
        for thread_id in self._local.held():
            cursor = await self._conn.execute("select pg_try_advisory_lock(%s)", (_key(thread_id),))
            row = await cursor.fetchone()
            if not (row and row[0]):
                task = self._local.holder(thread_id)
                log.error("thread %s: its lock was taken elsewhere while the lock connection was down; "
                          "cancelling the turn here", thread_id)
                if task is not None:
                    task.cancel()


@asynccontextmanager
async def open_thread_locks(checkpointer_url: str, *, base_dir: str | Path = ".") -> AsyncIterator[ThreadLocks]:
    """The thread locks that hold wherever a thread stored at `checkpointer_url` can be read."""
    parsed = parse_checkpointer_url(checkpointer_url)
    if parsed.kind == "memory":
        yield LocalThreadLocks()
    elif parsed.kind == "sqlite":
        file = Path(parsed.path or "threads.sqlite")
        if not file.is_absolute():
            file = Path(base_dir) / file
        yield FileThreadLocks(file.with_name(file.name + ".locks"))
    else:
        locks = PostgresThreadLocks(checkpointer_url)
        await locks.start()
        try:
            yield locks
        finally:
            await locks.close()
