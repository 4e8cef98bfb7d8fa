"""Graceful shutdown, `--workers`, and the pre-flight of the broker and of Postgres, on real server
processes (`python -m graphs.server`, the image's entrypoint).

On SIGTERM a replica answers `/ready` with 503, refuses new turns with a clean 503 `not_ready`, lets
the running turn end within `serve.grace_s`, or stops it with a clean `cancelled` error and its
thread as it was, and then exits 0.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from _replicas import ROOT, free_port, start_replica
from served import wait_ready

SLOW = {"FACTORY_SCRIPTED_TOKEN_DELAY_MS": "250"}  # the fallback reply's ~12 tokens take ~3 s
LONG = " ".join(["and"] * 60)  # the fallback reply repeats the message: ~70 tokens, ~17 s


class Stream(threading.Thread):
    """One `/chat/stream` turn read in the background: its status, events, and the first token's moment."""

    def __init__(self, url: str, thread_id: str, message: str = "hi") -> None:
        super().__init__(daemon=True)
        self.url, self.thread_id, self.message = url, thread_id, message
        self.status = 0
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.first_token = threading.Event()

    def run(self) -> None:
        with httpx.stream("POST", f"{self.url}/chat/stream", json={"message": self.message,
                                                                    "thread_id": self.thread_id},
                          timeout=90) as answer:
            self.status = answer.status_code
            name = ""
            for line in answer.iter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    self.events.append((name, json.loads(line.removeprefix("data: "))))
                    if name == "token":
                        self.first_token.set()

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.events]


def _with_grace(plan_file: Path, grace_s: float) -> Path:
    plan = json.loads(plan_file.read_text())
    plan["serve"]["grace_s"] = grace_s
    plan_file.write_text(json.dumps(plan))
    return plan_file


def _read_back(plan_file: Path, checkpointer: str, thread_id: str) -> tuple[Any, int]:
    import asyncio

    from graphs.agent import Agent

    async def read() -> tuple[Any, int]:
        plan = json.loads(plan_file.read_text())
        async with Agent.open(plan, checkpointer=checkpointer, base_dir=plan_file.parent) as agent:
            return (await agent.state(thread_id)).get("turns"), len(await agent.messages(thread_id))

    return asyncio.run(read())


def test_sigterm_refuses_new_turns_and_lets_the_running_one_finish(slow_plan: Path, tmp_path: Path) -> None:
    checkpointer = f"sqlite:///{tmp_path / 'threads.sqlite'}"
    replica = start_replica(_with_grace(slow_plan, 120), checkpointer=checkpointer, env=SLOW)
    try:
        running = Stream(replica.url, "drain-running", LONG)  # still running when the new turn comes
        running.start()
        assert running.first_token.wait(30), "the turn did not start streaming"
        replica.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while (ready := httpx.get(f"{replica.url}/ready", timeout=5)).status_code == 200:
            assert time.monotonic() < deadline, "/ready still 200 after SIGTERM"
            time.sleep(0.05)
        assert ready.status_code == 503 and ready.json()["status"] == "draining"
        refused = httpx.post(f"{replica.url}/chat/stream", json={"message": "hi", "thread_id": "drain-new"}, timeout=10)
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "not_ready" and refused.json()["retryable"] is True
        running.join(60)
        assert running.status == 200 and running.names[-1] == "end", running.names
        assert replica.proc.wait(30) == 0
    finally:
        replica.stop()
    assert _read_back(slow_plan, checkpointer, "drain-running") == (1, 2)
    assert _read_back(slow_plan, checkpointer, "drain-new") == (None, 0)


def test_a_turn_longer_than_the_grace_period_is_stopped_cleanly_and_its_thread_restored(
        slow_plan: Path, tmp_path: Path) -> None:
    checkpointer = f"sqlite:///{tmp_path / 'threads.sqlite'}"
    replica = start_replica(_with_grace(slow_plan, 0.5), checkpointer=checkpointer, env=SLOW)
    try:
        first = Stream(replica.url, "drain-cut")
        first.start()
        first.join(60)
        assert first.names[-1] == "end"
        second = Stream(replica.url, "drain-cut", LONG)
        second.start()
        assert second.first_token.wait(30)
        replica.proc.send_signal(signal.SIGTERM)
        second.join(30)
        assert second.status == 200
        name, data = second.events[-1]
        assert name == "error" and data["code"] == "cancelled" and data["retryable"] is True, second.events[-1]
        assert "end" not in second.names
        assert replica.proc.wait(30) == 0
    finally:
        replica.stop()
    assert _read_back(slow_plan, checkpointer, "drain-cut") == (1, 2)  # the first turn only


# ---------------------------------------------------------------------------------- workers

PID_SPEC = """\
spec: 1
name: pid-counter
description: Says which process ran the turn.
models: {main: {provider: scripted}}
state:
  pid: {type: integer, default: 0}
nodes:
  which: {kind: python, function: "pidnode:pid"}
  answer: {kind: reply, prompt: Answer.}
edges:
  - {from: start, to: which}
  - {from: which, to: answer}
  - {from: answer, to: end}
"""


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def _pids_of_turns(url: str, count: int) -> set[int]:
    import asyncio

    async def turn(client: httpx.AsyncClient, index: int) -> int:
        async with client.stream("POST", f"{url}/chat/stream", json={"message": "hi", "thread_id": f"w-{index}"}) as r:
            assert r.status_code == 200
            name = ""
            async for line in r.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name == "state":
                    return int(json.loads(line.removeprefix("data: "))["pid"])
        raise AssertionError("no state event")

    async def run() -> set[int]:
        # a new connection per turn, so the kernel hands them to whichever worker accepts first
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            return set(await asyncio.gather(*(turn(client, i) for i in range(count))))

    return asyncio.run(run())


def test_workers_share_the_port_and_the_threads_and_replace_a_dead_worker(tmp_path: Path) -> None:
    from factory.compiler import compile_plan
    from factory.language.loader import load_spec

    (tmp_path / "pid.yaml").write_text(PID_SPEC)
    (tmp_path / "pidnode.py").write_text("import os\n\ndef pid(state):\n    return {'pid': os.getpid()}\n")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(compile_plan(load_spec(tmp_path / "pid.yaml"))))
    checkpointer = f"sqlite:///{tmp_path / 'threads.sqlite'}"
    replica = start_replica(plan_file, checkpointer=checkpointer, args=("--workers", "2"),
                            env={"FACTORY_SCRIPTED_TOKEN_DELAY_MS": "20"})
    try:
        workers = _children(replica.proc.pid)
        served = set()
        for _ in range(5):
            served |= _pids_of_turns(replica.url, 24)
            if len(served) == 2:
                break
        assert len(served) == 2 and served <= workers, (served, workers)
        victim = next(iter(served))
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while len(_children(replica.proc.pid) - {victim}) != 2:
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            time.sleep(0.2)
        assert victim not in _pids_of_turns(replica.url, 8)
        replica.proc.send_signal(signal.SIGTERM)
        assert replica.proc.wait(40) == 0
    finally:
        replica.stop()


def test_workers_refuse_the_memory_checkpointer(slow_plan: Path) -> None:
    done = _entrypoint(slow_plan, "--checkpointer", "memory", "--workers", "3")
    assert done.returncode == 2 and "memory" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------------------------- pre-flight


def _entrypoint(plan_file: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "graphs.server", "--plan", str(plan_file), "--port", str(free_port()), *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, cwd=ROOT, capture_output=True, text=True,
        timeout=60)


def test_a_broker_that_does_not_answer_stops_the_start_with_exit_4(slow_plan: Path, tmp_path: Path) -> None:
    done = _entrypoint(slow_plan, "--checkpointer", f"sqlite:///{tmp_path / 't.sqlite'}",
                       env={"FACTORY_BROKER": f"redis://:secret@127.0.0.1:{free_port()}/0"})
    assert done.returncode == 4, done.stderr
    assert "the broker redis://...@127.0.0.1" in done.stderr and "does not answer" in done.stderr
    assert "secret" not in done.stderr and "Traceback" not in done.stderr


def test_a_broker_that_is_not_redis_is_a_usage_error(slow_plan: Path) -> None:
    done = _entrypoint(slow_plan, "--checkpointer", "memory", env={"FACTORY_BROKER": "http://cache:6379"})
    assert done.returncode == 2 and "the broker must be a Redis URL" in done.stderr, done.stderr


def test_a_bad_postgres_url_stops_the_start_with_exit_4(slow_plan: Path) -> None:
    done = _entrypoint(slow_plan, "--checkpointer", f"postgres://postgres:pw@127.0.0.1:{free_port()}/test")
    assert done.returncode == 4, done.stderr
    assert "cannot open the checkpointer" in done.stderr and "pw@" not in done.stderr
    assert "Traceback" not in done.stderr


def test_factory_serve_checks_the_broker_too(tmp_path: Path) -> None:
    from _replicas import SLOW_SPEC

    spec = tmp_path / "slow.yaml"
    spec.write_text(SLOW_SPEC)
    done = subprocess.run(
        [sys.executable, "-m", "factory", "serve", str(spec), "--port", "0", "--checkpointer", "memory"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "FACTORY_BROKER": f"redis://127.0.0.1:{free_port()}"},
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 4 and "does not answer" in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("value", ["0", "many"])
def test_a_bad_workers_variable_is_a_usage_error(slow_plan: Path, value: str) -> None:
    done = _entrypoint(slow_plan, "--checkpointer", "memory", env={"FACTORY_WORKERS": value})
    assert done.returncode == 2 and "FACTORY_WORKERS" in done.stderr, done.stderr


def test_factory_serve_with_workers_serves_and_stops_cleanly(tmp_path: Path) -> None:
    from _replicas import SLOW_SPEC

    spec = tmp_path / "slow.yaml"
    spec.write_text(SLOW_SPEC)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "factory", "serve", str(spec), "--port", str(port), "--workers", "2",
         "--checkpointer", f"sqlite:///{tmp_path / 'threads.sqlite'}"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, timeout=90, what="factory serve --workers 2")
        assert len(_children(proc.pid)) >= 2  # the workers (and perhaps multiprocessing's resource tracker)
        turn = Stream(url, "serve-workers")
        turn.run()
        assert turn.names[-1] == "end"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert "2 workers" in (proc.stderr.read() if proc.stderr else "")


def test_factory_serve_refuses_workers_on_the_memory_checkpointer(tmp_path: Path) -> None:
    from _replicas import SLOW_SPEC

    spec = tmp_path / "slow.yaml"
    spec.write_text(SLOW_SPEC)
    done = subprocess.run(
        [sys.executable, "-m", "factory", "serve", str(spec), "--port", "0", "--workers", "2", "--checkpointer",
         "memory"], env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "cannot share the `memory` checkpointer" in done.stderr, done.stderr
