"""What a turn reports while it runs: metrics (`_metrics`) and, when enabled, trace spans (`_tracing`).

`Agent.turn` (the one place every surface runs a turn) makes a `TurnWatch`, shows it each event it
yields and closes it at the end; `Agent.session` takes its thread through `admitted`, which counts
the refusals (a busy thread, a process shutting down).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from graphs.drain import ShuttingDown
from graphs.events import EndEvent, ErrorEvent, Event, TokenEvent
from graphs.locks import ThreadBusy
from graphs.telemetry import _metrics as m
from graphs.telemetry import _tracing
from graphs.telemetry._logs import turn_ids

__all__ = ["TurnWatch", "admitted"]


@asynccontextmanager
async def admitted(agent: str, *holds: AbstractAsyncContextManager[Any]) -> AsyncIterator[None]:
    """Enter `holds` in order for the block; a refusal (`ThreadBusy`, `ShuttingDown`) is counted and raised."""
    async with AsyncExitStack() as stack:
        try:
            for hold in holds:
                await stack.enter_async_context(hold)
        except ThreadBusy:
            m.BUSY_REFUSALS.labels(agent).inc()
            raise
        except ShuttingDown:
            m.SHUTDOWN_REFUSALS.labels(agent).inc()
            raise
        yield


class TurnWatch:
    """One turn's metrics and spans. `saw(event)` for each event, `close()` once (idempotent)."""

    def __init__(self, agent: str, *, thread_id: str, run_id: str) -> None:
        self.agent = agent
        self.started = time.perf_counter()
        self.first_token: float | None = None
        self.outcome: str | None = None
        self.closed = False
        m.ACTIVE_STREAMS.labels(agent).inc()
        turn_ids.set((thread_id, run_id))  # log lines of this turn carry its ids
        self.trace = _tracing.turn_span(agent, thread_id=thread_id, run_id=run_id)

    @property
    def callbacks(self) -> list[Any]:
        """LangChain callback handlers for the run's config (model and tool spans), when tracing."""
        return self.trace.callbacks if self.trace is not None else []

    def saw(self, event: Event) -> None:
        if isinstance(event, TokenEvent):
            if self.first_token is None:
                self.first_token = time.perf_counter()
                m.FIRST_TOKEN.labels(self.agent).observe(self.first_token - self.started)
        elif isinstance(event, ErrorEvent):
            self.outcome = "error"
            m.ERRORS.labels(self.agent, event.code).inc()
            if self.trace is not None:
                self.trace.failed(event.code, event.message)
        elif isinstance(event, EndEvent):
            self.outcome = "interrupted" if event.interrupted else "ok"
            for kind in ("input", "output"):
                count = event.usage.get(f"{kind}_tokens", 0)
                if count:
                    m.TOKENS.labels(self.agent, kind).inc(count)
            if self.trace is not None:
                self.trace.ended(event)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        outcome = self.outcome or "cancelled"
        m.TURNS.labels(self.agent, outcome).inc()
        m.TURN_DURATION.labels(self.agent, outcome).observe(time.perf_counter() - self.started)
        m.ACTIVE_STREAMS.labels(self.agent).dec()
        turn_ids.set(None)  # a connection's later lines (the next WebSocket frame) are no longer this turn's
        if self.trace is not None:
            self.trace.close(outcome)
