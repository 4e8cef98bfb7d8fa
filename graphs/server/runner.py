"""Running the server: one process, or `--workers N` processes sharing one socket, each draining
gracefully on SIGTERM. Both `factory serve` and the image's `python -m graphs.server` come here.

**Graceful shutdown** (`GracefulServer`): the first SIGTERM (or SIGINT) does not stop uvicorn at
once. The agent's turn gate drains (`graphs.drain`): `/ready` answers 503, a new turn is refused with
`not_ready` (503), running turns get `serve.grace_s` seconds to finish, then are stopped with a
clean `cancelled` error and their threads restored; only then does uvicorn close the socket and its
connections. A second signal a second later forces the exit.

**Workers** (`run_workers`): the parent binds the socket (the pre-flight already ran), starts N
worker processes (spawned, so nothing of the parent's event loop or connections is inherited), each
building the app from an `AppRecipe` and serving the shared socket. The parent forwards SIGTERM and
SIGINT, waits for the workers to drain, and replaces a worker that died (a worker that never
started ends the whole server with exit 4). Threads are shared through the checkpointer, so the
thread locks must hold across processes (`flock` beside SQLite, Postgres advisory locks): a
`memory` checkpointer is refused with several workers. Prometheus metrics are gathered from every
worker (`graphs.telemetry`: multiprocess mode in a folder the parent makes).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import uvicorn

from graphs.checkpointers import parse_checkpointer_url

__all__ = ["WORKERS_ENV", "AppRecipe", "GracefulServer", "choose_workers", "run_server", "run_workers"]

log = logging.getLogger("graphs.server")

WORKERS_ENV = "FACTORY_WORKERS"
FORCE_AFTER_S = 1.0
"""A second signal this long after the first forces the exit (one Ctrl+C reaches a whole process group)."""
_NEVER_STARTED = 4


@dataclass(frozen=True)
class AppRecipe:
    """How a worker builds the app: `module:function` called with `kwargs` (picklable, for spawned workers)."""

    target: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)(**self.kwargs)


def choose_workers(flag: int | None, serve_workers: int, *, checkpointer_url: str) -> int:
    """`--workers`, else `$FACTORY_WORKERS`, else the spec's `serve.workers`.

    Raises:
        ValueError: `$FACTORY_WORKERS` is not a whole number from 1 to 64, or several workers would
            each have their own `memory` checkpointer.
    """
    count = flag
    if count is None:
        raw = os.environ.get(WORKERS_ENV, "").strip()
        if raw and (not raw.isdigit() or not 1 <= int(raw) <= 64):
            raise ValueError(f"${WORKERS_ENV} must be a whole number from 1 to 64, got {raw!r}")
        count = int(raw) if raw else serve_workers
    if count > 1 and parse_checkpointer_url(checkpointer_url).kind == "memory":
        raise ValueError(f"{count} workers cannot share the `memory` checkpointer: each process would have its own "
                         "threads; use sqlite:///threads.sqlite (one host) or postgres://... (several hosts), "
                         "or one worker")
    return count


class GracefulServer(uvicorn.Server):
    """uvicorn that drains the app's turns on the first SIGTERM/SIGINT before it stops (see above)."""

    def __init__(self, config: uvicorn.Config, *, app: Any) -> None:
        super().__init__(config)
        self.app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._first_signal: float | None = None
        self._drain_task: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self._loop is None or self.should_exit:
            super().handle_exit(sig, frame)
        elif self._first_signal is None:
            self._first_signal = now
            self._loop.call_soon_threadsafe(self._begin_drain)
        elif now - self._first_signal >= FORCE_AFTER_S:
            log.warning("second signal: stopping now, without waiting for running turns")
            super().handle_exit(sig, frame)

    def _begin_drain(self) -> None:
        self._drain_task = asyncio.get_running_loop().create_task(self._drain(), name="graceful-shutdown")

    async def _drain(self) -> None:
        state = getattr(self.app.state, "factory", None)
        try:
            agent = state.agent if state is not None else None
            if state is not None and agent is not None:
                grace = float(state.serve["grace_s"])
                log.info("shutting down: %d turn(s) running, %.1f s to finish", agent.gate.active, grace)
                stopped = await agent.gate.drain(grace)
                if stopped:
                    log.warning("%d turn(s) stopped at the end of the grace period", stopped)
        finally:
            self.should_exit = True


def run_server(app: Any, sock: socket.socket, **uvicorn_options: Any) -> bool:
    """Serve `app` on the bound `sock` in this process until a signal drains it. True if it started."""
    from graphs.telemetry import json_logs_wanted, log_config, shutdown_tracing

    options = {"timeout_graceful_shutdown": 5, **uvicorn_options}
    if json_logs_wanted() and "log_config" not in options:
        options["log_config"] = log_config(str(options.get("log_level") or "info"))
    server = GracefulServer(uvicorn.Config(app, **options), app=app)
    try:
        server.run(sockets=[sock])
    finally:
        shutdown_tracing()
    return bool(server.started)


def _worker(recipe: AppRecipe, sock: socket.socket, uvicorn_options: dict[str, Any]) -> None:
    """A worker process: build the app, serve the shared socket; exit 4 if it never started."""
    try:
        app = recipe.build()
        started = run_server(app, sock, **uvicorn_options)
    except Exception:
        log.exception("worker %d could not start", os.getpid())
        started = False
    if not started:
        os._exit(_NEVER_STARTED)


def run_workers(recipe: AppRecipe, sock: socket.socket, *, workers: int, grace_s: float,
                uvicorn_options: dict[str, Any]) -> int:
    """Run `workers` processes on `sock` until SIGTERM/SIGINT; the exit code (0, or 4 when a worker
    could not start)."""
    from graphs.telemetry import MULTIPROC_ENV

    context = multiprocessing.get_context("spawn")
    metrics_dir = os.environ.get(MULTIPROC_ENV)
    made_dir = None
    if not metrics_dir:
        metrics_dir = made_dir = tempfile.mkdtemp(prefix="factory-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}

    def start() -> Any:
        process = context.Process(target=_worker, args=(recipe, sock, uvicorn_options), daemon=False)
        process.start()
        return process

    processes = [start() for _ in range(workers)]
    code = 0
    try:
        while not stop.wait(0.5):
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                _forget_worker(process.pid)
                if process.exitcode == _NEVER_STARTED:
                    log.error("a worker could not start (see above); stopping the server")
                    code = _NEVER_STARTED
                    stop.set()
                    break
                log.warning("worker %s ended (exit %s); starting another", process.pid, process.exitcode)
                processes[index] = start()
    finally:
        for process in processes:
            if process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s + 15
        for process in processes:
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(5)
            _forget_worker(process.pid)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if made_dir is not None:
            shutil.rmtree(made_dir, ignore_errors=True)
    return code


def _forget_worker(pid: int | None) -> None:
    """A dead worker's live gauges (active streams) no longer count."""
    if pid is None:
        return
    from prometheus_client import multiprocess

    with contextlib.suppress(Exception):
        multiprocess.mark_process_dead(pid)
