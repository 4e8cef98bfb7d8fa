"""Replicas of one agent as real server processes, on a real Postgres (or one SQLite file).

Skipped when Postgres is unreachable, unless FACTORY_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("FACTORY_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test")

SLOW_SPEC = """\
spec: 1
name: slow-counter
description: Counts turns and answers slowly, so that two turns of one thread overlap.
models: {main: {provider: scripted}}
state:
  turns: {type: integer, default: 0}
nodes:
  count_turn: {kind: set, values: {turns: "state.turns + 1"}}
  answer: {kind: reply, prompt: Answer.}
edges:
  - {from: start, to: count_turn}
  - {from: count_turn, to: answer}
  - {from: answer, to: end}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Replica:
    proc: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_replica(plan_file: Path, *, checkpointer: str, env: dict[str, str] | None = None,
                  port: int | None = None) -> Replica:
    """`python -m graphs.server` on a free port (or `port`); waits until `/ready` answers."""
    port = port or free_port()
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphs.server", "--plan", str(plan_file), "--base-dir", str(plan_file.parent),
         "--port", str(port), "--checkpointer", checkpointer, "--log-level", "warning"],
        env=full_env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return Replica(proc, url)
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the replica on port {port} did not become ready")


def _postgres_problem() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:
        return str(exc)
    return None


@pytest.fixture(scope="session")
def postgres() -> str:
    problem = _postgres_problem()
    if problem:
        if os.environ.get("FACTORY_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"FACTORY_REQUIRE_POSTGRES=1 but {PG_URL} is unreachable: {problem}")
        pytest.skip(f"Postgres unreachable at {PG_URL}: {problem}")
    return PG_URL


@pytest.fixture
def slow_plan(tmp_path: Path) -> Path:
    """The slow counter's plan as a file (the image's entrypoint takes a plan)."""
    import json

    from factory.compiler import compile_plan
    from factory.language.loader import load_spec

    spec = tmp_path / "slow.yaml"
    spec.write_text(SLOW_SPEC)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(compile_plan(load_spec(spec))))
    return plan_file


@pytest.fixture
def two_replicas(request: pytest.FixtureRequest, slow_plan: Path) -> Iterator[list[Replica]]:
    """Two replicas on the checkpointer the test names with `@pytest.mark.parametrize("checkpointer", ...)`."""
    checkpointer = request.getfixturevalue("checkpointer_url")
    env = {"FACTORY_SCRIPTED_TOKEN_DELAY_MS": "30"}
    replicas = [start_replica(slow_plan, checkpointer=checkpointer, env=env) for _ in range(2)]
    try:
        yield replicas
    finally:
        for replica in replicas:
            replica.stop()
