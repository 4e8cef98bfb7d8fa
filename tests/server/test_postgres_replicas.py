"""Two server processes on one Postgres database continue one thread alternately.

Skipped when Postgres is unreachable, unless FACTORY_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _server_support import ROOT, echo_plan, free_socket
from httpx_sse import connect_sse
from real_parts import postgres_or_skip
from served import wait_ready

from factory.mockllm import MockLLMServer

PG_URL = os.environ.get("FACTORY_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def postgres() -> str:
    return postgres_or_skip(PG_URL)


def _start(plan_file: Path, base: Path, url: str) -> tuple[subprocess.Popen[bytes], str]:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "graphs.server",
            "--plan",
            str(plan_file),
            "--base-dir",
            str(base),
            "--port",
            str(port),
            "--checkpointer",
            url,
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    base_url = f"http://127.0.0.1:{port}"
    wait_ready(base_url, proc, timeout=30, what="the replica")
    return proc, base_url


@pytest.fixture
def replicas(postgres: str, mock_llm: MockLLMServer, tmp_path: Path) -> Iterator[list[str]]:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(echo_plan(mock_llm.base_url)))
    started = [_start(plan_file, tmp_path, postgres) for _ in range(2)]
    try:
        yield [url for _, url in started]
    finally:
        for proc, _ in started:
            proc.terminate()
            proc.wait(10)


def test_two_replicas_continue_one_thread(replicas: list[str], mock_llm: MockLLMServer) -> None:
    thread = f"replica-{uuid.uuid4().hex}"
    states = []
    for index, text in enumerate(["one", "two", "three", "four"]):
        with (
            httpx.Client(base_url=replicas[index % 2], timeout=20) as client,
            connect_sse(client, "POST", "/chat/stream", json={"message": text, "thread_id": thread}) as source,
        ):
            events = {event.event: json.loads(event.data) for event in source.iter_sse()}
        states.append(events["state"]["turns"])
    assert states == [1, 2, 3, 4]
    users = [m["content"] for m in mock_llm.requests[-1].messages if m["role"] == "user"]
    assert users == ["one", "two", "three", "four"]
