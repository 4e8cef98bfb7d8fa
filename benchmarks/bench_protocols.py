"""MCP and A2A against the factory's own SSE: wall time and server CPU per turn, sequential turns.

One agent (one reply node), its model a fake one at the wire (mock-llm, 20 tokens, no delay), served
by `python -m graphs.server` in its own process. Each path runs `--turns` turns, one after another,
each on a new thread:

- `chat_stream`: `POST /chat/stream` (SSE), read to the `end` event (the baseline);
- `mcp_call`: `/mcp`, the official `mcp` client's `call_tool` on one session (stateless transport:
  one HTTP request per call);
- `a2a_send`: `POST /a2a` `message/send`, the task once the turn ended;
- `a2a_stream`: `POST /a2a` `message/stream`, read to the final `status-update`.

The server's CPU per turn is read from `/proc/<pid>/stat` around each path's batch.

    .venv/bin/python benchmarks/bench_protocols.py [--turns 40]

Writes `benchmarks/results/protocols.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_streaming import cpu_seconds, free_port, wait_ready  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "protocols.json"
SPEC = """\
spec: 1
name: bench-bot
description: One reply node; the benchmark's agent.
models:
  main: {provider: openai, model: mock, max_retries: 0, timeout_s: 60}
default_model: main
prompts:
  answer: You are a benchmark bot.
nodes:
  answer: {kind: reply, prompt: answer}
edges:
  - {from: start, to: answer}
  - {from: answer, to: end}
"""
REPLY = " ".join(f"word{i}" for i in range(20))


def _message(text: str) -> dict[str, Any]:
    return {"kind": "message", "messageId": uuid.uuid4().hex, "role": "user", "parts": [{"kind": "text", "text": text}]}


async def chat_stream(http: httpx.AsyncClient, url: str) -> None:
    async with http.stream("POST", f"{url}/chat/stream", json={"message": "hi"}) as response:
        body = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert b"event: end" in body, body[-300:]


async def a2a_send(http: httpx.AsyncClient, url: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": _message("hi")}}
    task = (await http.post(f"{url}/a2a", json=body)).json()["result"]
    assert task["status"]["state"] == "completed", task


async def a2a_stream(http: httpx.AsyncClient, url: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "message/stream", "params": {"message": _message("hi")}}
    async with http.stream("POST", f"{url}/a2a", json=body) as response:
        text = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert b'"state":"completed"' in text, text[-300:]


async def _timed(turns: int, pid: int, one: Callable[[], Awaitable[None]]) -> dict[str, float]:
    await one()  # warm-up
    walls = []
    cpu = cpu_seconds(pid)
    for _ in range(turns):
        started = time.perf_counter()
        await one()
        walls.append((time.perf_counter() - started) * 1000)
    cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / turns
    walls.sort()
    return {"median_ms": round(statistics.median(walls), 2), "p95_ms": round(walls[int(0.95 * (len(walls) - 1))], 2),
            "server_cpu_ms_per_turn": round(cpu_ms, 2)}


async def measure(url: str, pid: int, turns: int) -> dict[str, dict[str, float]]:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    results = {}
    async with httpx.AsyncClient(timeout=60) as http:
        results["chat_stream"] = await _timed(turns, pid, lambda: chat_stream(http, url))
        async with streamable_http_client(f"{url}/mcp") as (read, write, _), ClientSession(read, write) as session:
            await session.initialize()

            async def call() -> None:
                result = await session.call_tool("bench-bot", {"message": "hi"})
                assert not result.isError, result

            results["mcp_call"] = await _timed(turns, pid, call)
        results["a2a_send"] = await _timed(turns, pid, lambda: a2a_send(http, url))
        results["a2a_stream"] = await _timed(turns, pid, lambda: a2a_stream(http, url))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=40)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from factory.compiler import compile_plan
    from factory.language.loader import load_spec
    from factory.mockllm import MockLLMServer

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "sk-bench"}
    with tempfile.TemporaryDirectory() as folder, MockLLMServer({"default": {"text": REPLY}}) as mock:
        work = Path(folder)
        (work / "bench.yaml").write_text(SPEC)
        plan = compile_plan(load_spec(work / "bench.yaml"))
        plan["models"]["main"]["base_url"] = mock.base_url
        (work / "plan.json").write_text(json.dumps(plan))
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "graphs.server", "--plan", str(work / "plan.json"),
                                   "--base-dir", str(work), "--port", str(port), "--checkpointer", "memory",
                                   "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(f"{url}/ready", server)
            results = asyncio.run(measure(url, server.pid, args.turns))
        finally:
            server.terminate()
            server.wait(15)
    report = {"turns": args.turns, "reply_tokens": 20, "python": platform.python_version(),
              "cpus": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 1), "paths": results}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    for name, figures in results.items():
        print(f"{name:12} median {figures['median_ms']:8.2f} ms  p95 {figures['p95_ms']:8.2f} ms  "
              f"server CPU {figures['server_cpu_ms_per_turn']:6.2f} ms/turn")
    print(f"(load average {report['load_1m']} on {report['cpus']} CPUs) -> {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
