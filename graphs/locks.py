"""Thread locks: one turn per thread at a time.

A turn session (`Agent.session`) holds its thread's lock from before it reads the thread until it
has written (or restored) it. A second turn on a held thread gets `ThreadBusy` at once: it never
waits, so a client learns "busy" (HTTP 409) instead of a turn that interleaves with another.

`ThreadLocks` is the interface; `LocalThreadLocks` holds within one process (the memory
checkpointer, a single `factory serve`). Locks that hold across processes and replicas implement
the same interface (`open_thread_locks` picks one for a checkpointer URL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

__all__ = ["LocalThreadLocks", "ThreadBusy", "ThreadLocks"]


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
        self._held: set[str] = set()

    def is_held(self, thread_id: str) -> bool:
        return thread_id in self._held

    @asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[None]:
        if thread_id in self._held:
            raise ThreadBusy(thread_id)
        self._held.add(thread_id)
        try:
            yield
        finally:
            self._held.discard(thread_id)
