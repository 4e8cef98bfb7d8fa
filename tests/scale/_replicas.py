"""Replicas of one agent as real server processes (`python -m graphs.server`, the image's entrypoint)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from served import wait_ready

from factory.runners import free_port

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
                  port: int | None = None, args: tuple[str, ...] = (), stderr: int | None = None) -> Replica:
    """`python -m graphs.server` on a free port (or `port`); waits until `/ready` answers."""
    port = port or free_port()
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphs.server", "--plan", str(plan_file), "--base-dir", str(plan_file.parent),
         "--port", str(port), "--checkpointer", checkpointer, "--log-level", "warning", *args],
        env=full_env, cwd=ROOT, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    # a loaded CI machine starts a replica slowly
    wait_ready(url, proc, timeout=120, what=f"the replica on port {port}")
    return Replica(proc, url)
