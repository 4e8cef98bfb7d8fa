"""Prometheus metrics of the turns (`prometheus-client`), exposed at `GET /metrics`.

One process: the client library's default registry. Several workers (`factory serve --workers N`):
its multiprocess mode, in the folder `$PROMETHEUS_MULTIPROC_DIR` that the parent makes before it
starts the workers; `/metrics` of any worker then sums every worker's counters and histograms, and
the active-streams gauge counts the live workers only (`livesum`).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = [
    "ACTIVE_STREAMS",
    "BUSY_REFUSALS",
    "CONTENT_TYPE_LATEST",
    "ERRORS",
    "FIRST_TOKEN",
    "MULTIPROC_ENV",
    "SHUTDOWN_REFUSALS",
    "TOKENS",
    "TURNS",
    "TURN_DURATION",
    "render",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

TURNS = Counter("factory_turns", "Turns by how they ended: ok, interrupted (paused at an interrupt), error "
                "(an `error` event), cancelled (the client went away or the turn was cancelled).",
                ["agent", "outcome"])
FIRST_TOKEN = Histogram("factory_turn_first_token_seconds", "Time from the start of a turn to its first token.",
                        ["agent"], buckets=_SECONDS)
TURN_DURATION = Histogram("factory_turn_duration_seconds", "Time from the start of a turn to its end, by outcome.",
                          ["agent", "outcome"], buckets=_SECONDS)
TOKENS = Counter("factory_tokens", "Model tokens of finished turns, by kind (input, output).", ["agent", "kind"])
ERRORS = Counter("factory_turn_errors", "Turns that ended with an `error` event, by error code (model_*, "
                 "tool_error, ...; docs/errors.md).", ["agent", "code"])
ACTIVE_STREAMS = Gauge("factory_active_streams", "Turns running now.", ["agent"], multiprocess_mode="livesum")
BUSY_REFUSALS = Counter("factory_busy_refusals", "Turns refused because another turn held the thread (409).",
                        ["agent"])
SHUTDOWN_REFUSALS = Counter("factory_shutdown_refusals", "Turns refused because the process was shutting down "
                            "(503).", ["agent"])


def render() -> tuple[bytes, str]:
    """The exposition text of this process, or of every worker in multiprocess mode; its content type."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
