"""Graceful shutdown of one process's turns: take no new ones, let the running ones finish within a
grace period, then stop the rest cleanly.

Every turn session (`Agent.session`) is admitted here first (`TurnGate.admit`). While the process
drains, admission raises `ShuttingDown` (the `not_ready` code: HTTP 503, retryable, so a client or a
load balancer sends it to another replica). A turn still running when the grace period is over is
stopped: a streamed turn (`Agent.turn`) registers a `stop` that cancels its graph and ends it with a
clean `error` event (`cancelled`, retryable) after its thread was restored; a raw session (no
`stop`) has its task cancelled, which restores the thread as well. Nothing of a stopped turn stays
in the thread.

The server runner (`graphs.server.runner`) calls `drain(grace_s)` on SIGTERM and exits once it
returns; `/ready` answers 503 from the first moment (`draining`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from graphs.errors import NodeError

__all__ = ["ShuttingDown", "TurnGate", "TurnStopped"]

log = logging.getLogger("graphs.drain")


class ShuttingDown(NodeError):
    """A new turn reached a process that is shutting down (`not_ready`, 503, retryable)."""

    def __init__(self) -> None:
        super().__init__("the server is shutting down and starts no new turn; send it again (another replica, "
                         "or this one once restarted, answers)", code="not_ready")


class TurnStopped(NodeError):
    """A turn that outlived the grace period of a shutdown (`cancelled`, retryable)."""

    def __init__(self) -> None:
        super().__init__("the server shut down before this turn ended; the thread is as it was before it: "
                         "send the message again", code="cancelled")


@dataclass
class _Entry:
    task: asyncio.Task[object] | None
    stop: Callable[[], None] | None = None


class TurnGate:
    """The turns of one process, and whether it still takes new ones."""

    def __init__(self) -> None:
        self.draining = False
        self._turns: dict[str, _Entry] = {}
        self._idle: asyncio.Event | None = None

    @property
    def active(self) -> int:
        """Turn sessions running now."""
        return len(self._turns)

    @contextlib.asynccontextmanager
    async def admit(self, run_id: str) -> AsyncIterator[None]:
        """Track the block as the run `run_id`.

        Raises:
            ShuttingDown: the process is draining.
        """
        if self.draining:
            raise ShuttingDown()
        self._turns[run_id] = _Entry(asyncio.current_task())
        try:
            yield
        finally:
            self._turns.pop(run_id, None)
            if not self._turns and self._idle is not None:
                self._idle.set()

    def on_stop(self, run_id: str, stop: Callable[[], None]) -> None:
        """How to stop the run cleanly when the grace period is over (instead of cancelling its task)."""
        entry = self._turns.get(run_id)
        if entry is not None:
            entry.stop = stop

    async def drain(self, grace_s: float, *, stop_wait_s: float = 10.0) -> int:
        """Take no new turns; wait up to `grace_s` for the running ones, then stop them. Returns how
        many were stopped."""
        self.draining = True
        if await self._wait_idle(grace_s):
            return 0
        stopped = list(self._turns.values())
        log.warning("grace period of %.1f s over: stopping %d turn(s); their threads are restored",
                    grace_s, len(stopped))
        for entry in stopped:
            if entry.stop is not None:
                entry.stop()
            elif entry.task is not None:
                entry.task.cancel()
        await self._wait_idle(stop_wait_s)
        return len(stopped)

    async def _wait_idle(self, timeout: float) -> bool:
        if not self._turns:
            return True
        self._idle = asyncio.Event()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return not self._turns
        return True
