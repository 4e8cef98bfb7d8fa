"""Threads outlive the process that wrote them: SQLite read back by a second process, the memory
saver within one process, and Postgres (skipped when unreachable unless FACTORY_REQUIRE_POSTGRES=1)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from _graph_support import plan_of, run_turns, write_spec
from real_parts import postgres_or_skip

FACTORY = Path(sys.executable).parent / "factory"
POSTGRES_URL = os.environ.get("FACTORY_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")

SPEC = """
spec: 1
name: memo
models:
  main: {provider: scripted}
default_model: main
state:
  turns: {type: integer, default: 0}
  notes: {type: "list[string]", reducer: append}
  name: {type: string}
nodes:
  count:
    kind: set
    values: {turns: state.turns + 1, notes: 'state.messages[size(state.messages) - 1].content'}
  ask_name: {kind: interrupt, message: "Who are you?", into: name}
  answer: {kind: reply, prompt: "Hello {{ name }}."}
edges:
  - {from: start, to: count}
  - {from: count, to: ask_name, when: state.name == null}
  - {from: count, to: answer}
  - {from: ask_name, to: answer}
  - {from: answer, to: end}
"""


def _factory_run(spec: Path, message: str, thread: str, checkpointer: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(FACTORY), "run", str(spec), message, "--thread", thread, "--model", "scripted",
         "--checkpointer", checkpointer, "--json"],
        capture_output=True, text=True, timeout=120, cwd=spec.parent,
        env={**os.environ, "FACTORY_CHECKPOINTER": "", "FACTORY_MODEL": ""})
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _data(events: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (data,) = [e["data"] for e in events if e["event"] == kind]
    return data


def test_sqlite_thread_is_continued_by_a_second_process(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, SPEC)
    url = f"sqlite:///{tmp_path / 'db' / 't.sqlite'}"
    first = _factory_run(spec, "hi there", "thread-a", url)
    assert _data(first, "end")["interrupted"] is True
    assert _data(first, "state") == {"turns": 1, "notes": ["hi there"], "name": None}

    second = _factory_run(spec, "Lin", "thread-a", url)  # a new process resumes the interrupt
    assert _data(second, "end")["path"] == ["ask_name", "answer"]
    assert _data(second, "state") == {"turns": 1, "notes": ["hi there"], "name": "Lin"}

    third = _factory_run(spec, "again", "thread-a", url)
    assert _data(third, "state") == {"turns": 2, "notes": ["hi there", "again"], "name": "Lin"}
    other = _factory_run(spec, "fresh", "thread-b", url)
    assert _data(other, "state")["turns"] == 1


async def _two_agents(plan: Any, base: Path, checkpointer: str) -> tuple[Any, Any]:
    thread = f"persist-{uuid.uuid4().hex}"
    first = await run_turns(plan, base, ["hello", "Kim"], checkpointer=checkpointer, thread_id=thread)
    again = await run_turns(plan, base, ["more"], checkpointer=checkpointer, thread_id=thread)
    return first, again


def test_memory_checkpointer_keeps_a_thread_only_while_open(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, SPEC)
    first, again = asyncio.run(_two_agents(plan_of(spec), tmp_path, "memory"))
    assert first[1].state == {"turns": 1, "notes": ["hello"], "name": "Kim"}
    assert again[0].state == {"turns": 1, "notes": ["more"], "name": None}  # a new saver: a new thread


@pytest.mark.postgres
def test_postgres_thread_survives_reopening(tmp_path: Path) -> None:
    postgres_or_skip(POSTGRES_URL)
    spec = write_spec(tmp_path, SPEC)
    first, again = asyncio.run(_two_agents(plan_of(spec), tmp_path, POSTGRES_URL))
    assert first[1].state == {"turns": 1, "notes": ["hello"], "name": "Kim"}
    assert again[0].state == {"turns": 2, "notes": ["hello", "more"], "name": "Kim"}
    assert again[0].path == ["count", "answer"]
