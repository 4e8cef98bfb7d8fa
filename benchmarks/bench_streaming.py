"""Streaming benchmark: time to first token and server CPU per turn, and a concurrency soak.

One run, one fake model (mock-llm: 100 ms to first token, 50 tokens), five paths:

- `direct`: the client streams from the fake model itself (the floor);
- `langserve_stream_events`: the same graph behind LangServe's `/stream_events`;
- `chat_stream`: our `POST /chat/stream` (SSE);
- `websocket`: our `/ws/chat/{thread}`;
- `agent_server_stream`: the LangGraph Agent Server API, `POST /threads/{id}/runs/stream` with
  `stream_mode: ["values", "messages-tuple"]` (what Agent Chat UI asks for, less `custom`), each turn
  on a new thread made beforehand (`POST /threads` belongs to a conversation, not to a turn: it costs
  about 1 ms of server CPU, not counted here). It is compared with `chat_stream` again in turns
  taken alternately (`paired`), so that both see the same load on a shared machine.

(Still to add: the same spec served by `langgraph dev` from the generated `langgraph.json`, once
`factory build` writes it; measured by hand on a one-node chat graph, `langgraph dev` 0.16.7 took
~716 ms to the first token against ~104 ms for the model alone, and ~74 ms of CPU per turn.)

The fake model and the agent server each run in their own process, so the server's CPU per turn is
read from `/proc/<pid>/stat` around each batch of sequential turns. Then `--concurrency` streams
(default 200) hammer `/chat/stream` for `--duration` seconds (default 60) and every failure is counted.

    .venv/bin/python benchmarks/bench_streaming.py [--turns 50] [--duration 60] [--concurrency 200]

Writes `benchmarks/results/streaming.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
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
import websockets
from httpx_sse import aconnect_sse

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "streaming.json"
SPEC = """\
spec: 1
name: bench-bot
description: One reply node; the benchmark's agent.
models:
  main: {provider: openai, model: mock, max_retries: 0, timeout_s: 60}
default_model: main
state:
  turns: {type: integer, default: 0}
prompts:
  answer: You are a benchmark bot.
nodes:
  count_turn: {kind: set, values: {turns: "state.turns + 1"}}
  answer: {kind: reply, prompt: answer}
edges:
  - {from: start, to: count_turn}
  - {from: count_turn, to: answer}
  - {from: answer, to: end}
serve: {checkpointer: "sqlite:///bench.sqlite"}
"""

Measure = Callable[[httpx.AsyncClient], Awaitable[float]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


def start_processes(
    work: Path, args: argparse.Namespace
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], str, str]:
    script = work / "script.json"
    script.write_text(
        json.dumps(
            {
                "default": {
                    "text": "tok ",
                    "tokens": args.tokens,
                    "first_token_delay_ms": args.first_token_ms,
                    "token_delay_ms": args.token_delay_ms,
                }
            }
        )
    )
    mock_port, server_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "bench"}
    mock = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from factory.mockllm.cli import mock_llm_command; "
            "mock_llm_command(Path(sys.argv[1]), port=int(sys.argv[2]))",
            str(script),
            str(mock_port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    mock_url = f"http://127.0.0.1:{mock_port}"
    wait_ready(f"{mock_url}/v1/models", mock)
    from factory.compiler import compile_plan
    from factory.language.loader import load_spec

    (work / "bench.yaml").write_text(SPEC)
    plan = compile_plan(load_spec(work / "bench.yaml"))
    plan["models"]["main"]["base_url"] = f"{mock_url}/v1"
    (work / "plan.json").write_text(json.dumps(plan))
    checkpointer = args.checkpointer or f"sqlite:///{work / 'bench.sqlite'}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "graphs.server",
            "--plan",
            str(work / "plan.json"),
            "--base-dir",
            str(work),
            "--port",
            str(server_port),
            "--checkpointer",
            checkpointer,
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    server_url = f"http://127.0.0.1:{server_port}"
    wait_ready(f"{server_url}/ready", server)
    return mock, server, mock_url, server_url


# ---------------------------------------------------------------- one streamed turn per path


def direct(mock_url: str) -> Measure:
    async def run(client: httpx.AsyncClient) -> float:
        body = {"model": "mock", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        started = time.perf_counter()
        first = None
        async with aconnect_sse(client, "POST", f"{mock_url}/v1/chat/completions", json=body) as source:
            async for event in source.aiter_sse():
                if first is None and event.data != "[DONE]":
                    chunk = json.loads(event.data)
                    if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                        first = time.perf_counter() - started
        assert first is not None
        return first

    return run


def langserve(server_url: str) -> Measure:
    async def run(client: httpx.AsyncClient) -> float:
        body = {
            "input": {"messages": [{"role": "user", "content": "hi"}]},
            "config": {"configurable": {"thread_id": uuid.uuid4().hex}},
            "version": "v2",
        }
        started = time.perf_counter()
        first = None
        async with aconnect_sse(client, "POST", f"{server_url}/bench-bot/stream_events", json=body) as source:
            async for event in source.aiter_sse():
                if event.event == "error":
                    raise RuntimeError(event.data)
                if first is None and event.event == "data":
                    data = json.loads(event.data)
                    if data.get("event") == "on_chat_model_stream" and data["data"]["chunk"].get("content"):
                        first = time.perf_counter() - started
        assert first is not None
        return first

    return run


async def sse_turn(client: httpx.AsyncClient, url: str, body: dict[str, Any], *, token: str, last: str) -> float:
    """POST `body` to an SSE route; the time to its first `token` event (the stream must end with `last`)."""
    started = time.perf_counter()
    first, final = None, ""
    async with aconnect_sse(client, "POST", url, json=body) as source:
        if source.response.status_code != 200:
            raise RuntimeError(f"HTTP {source.response.status_code}")
        async for event in source.aiter_sse():
            if first is None and event.event == token:
                first = time.perf_counter() - started
            elif event.event == "error":
                raise RuntimeError(event.data)
            final = event.event
    if first is None or final != last:
        raise RuntimeError(f"the stream ended without a `{token}` event or without `{last}`")
    return first


def chat_stream(server_url: str) -> Measure:
    async def run(client: httpx.AsyncClient) -> float:
        return await sse_turn(client, f"{server_url}/chat/stream", {"message": "hi"}, token="token", last="end")

    return run


def agent_server_stream(server_url: str, threads: int) -> Measure:
    body = {"assistant_id": "bench-bot", "input": {"messages": [{"role": "user", "content": "hi"}]},
            "stream_mode": ["values", "messages-tuple"]}
    fresh: list[str] = []

    async def run(client: httpx.AsyncClient) -> float:
        if not fresh:  # on the first (warm-up) turn: threads for every turn, before the timed ones
            for _ in range(threads):
                answer = (await client.post(f"{server_url}/threads", json={})).raise_for_status()
                fresh.append(answer.json()["thread_id"])
        url = f"{server_url}/threads/{fresh.pop()}/runs/stream"
        return await sse_turn(client, url, body, token="messages", last="values")

    return run


def websocket(server_url: str) -> Measure:
    ws_url = server_url.replace("http://", "ws://")

    async def run(client: httpx.AsyncClient) -> float:
        async with websockets.connect(f"{ws_url}/ws/chat/{uuid.uuid4().hex}") as ws:
            started = time.perf_counter()
            await ws.send('{"type":"message","text":"hi"}')
            first = None
            while True:
                frame = json.loads(await ws.recv())
                if first is None and frame["event"] == "token":
                    first = time.perf_counter() - started
                elif frame["event"] == "error":
                    raise RuntimeError(frame["data"])
                elif frame["event"] == "end":
                    break
        assert first is not None
        return first

    return run


# ---------------------------------------------------------------- measurements


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def sequential(name: str, measure: Measure, turns: int, pid: int | None) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(3):  # warm up connections, imports, caches
            await measure(client)
        cpu_before = cpu_seconds(pid) if pid else 0.0
        ttfts = [await measure(client) for _ in range(turns)]
        cpu = (cpu_seconds(pid) - cpu_before) / turns if pid else None
    result = {
        "path": name,
        "turns": turns,
        "ttft_ms_p50": round(pct(ttfts, 0.5) * 1000, 2),
        "ttft_ms_p99": round(pct(ttfts, 0.99) * 1000, 2),
        "ttft_ms_mean": round(statistics.mean(ttfts) * 1000, 2),
        "server_cpu_ms_per_turn": None if cpu is None else round(cpu * 1000, 2),
    }
    print(
        f"{name:26s} TTFT p50 {result['ttft_ms_p50']:8.2f} ms  p99 {result['ttft_ms_p99']:8.2f} ms  "
        f"server CPU/turn {result['server_cpu_ms_per_turn']} ms",
        flush=True,
    )
    return result


async def paired(names: tuple[str, str], measures: tuple[Measure, Measure], turns: int, pid: int) -> dict[str, Any]:
    """Two paths take turns, so both see the same machine (this one is shared): each path's TTFT and
    server CPU per turn (the process's CPU read around each turn, summed per path), and the median
    of the per-pair TTFT differences."""
    ttfts: tuple[list[float], list[float]] = ([], [])
    cpu = [0.0, 0.0]
    async with httpx.AsyncClient(timeout=60) as client:
        for measure in measures:
            for _ in range(3):
                await measure(client)
        for turn in range(turns):
            for index in (0, 1) if turn % 2 else (1, 0):  # ABBA: neither path always goes first
                before = cpu_seconds(pid)
                ttfts[index].append(await measures[index](client))
                cpu[index] += cpu_seconds(pid) - before
    result = {
        "paths": list(names),
        "turns": turns,
        "ttft_ms_p50": [round(pct(t, 0.5) * 1000, 2) for t in ttfts],
        "server_cpu_ms_per_turn": [round(c / turns * 1000, 2) for c in cpu],
        "ttft_ms_p50_of_differences": round(
            statistics.median(b - a for a, b in zip(*ttfts, strict=True)) * 1000, 2),
    }
    print(f"paired {names[1]} - {names[0]}: TTFT p50 {result['ttft_ms_p50']} ms, median difference "
          f"{result['ttft_ms_p50_of_differences']} ms, server CPU/turn {result['server_cpu_ms_per_turn']} ms",
          flush=True)
    return result


async def soak(server_url: str, concurrency: int, duration: float, pid: int) -> dict[str, Any]:
    measure = chat_stream(server_url)
    limits = httpx.Limits(max_connections=concurrency + 10, max_keepalive_connections=concurrency + 10)
    errors: dict[str, int] = {}
    ttfts: list[float] = []
    deadline = time.monotonic() + duration

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            try:
                ttfts.append(await measure(client))
            except Exception as exc:
                key = f"{type(exc).__name__}: {str(exc)[:80]}"
                errors[key] = errors.get(key, 0) + 1

    cpu_before, started = cpu_seconds(pid), time.monotonic()
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    turns = len(ttfts)
    result = {
        "path": "chat_stream",
        "concurrency": concurrency,
        "duration_s": round(elapsed, 1),
        "turns": turns,
        "turns_per_s": round(turns / elapsed, 1),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "ttft_ms_p50": round(pct(ttfts, 0.5) * 1000, 2) if ttfts else None,
        "ttft_ms_p99": round(pct(ttfts, 0.99) * 1000, 2) if ttfts else None,
        "server_cpu_ms_per_turn": round((cpu_seconds(pid) - cpu_before) / max(turns, 1) * 1000, 2),
    }
    print(
        f"soak: {concurrency} streams x {result['duration_s']} s: {turns} turns ({result['turns_per_s']}/s), "
        f"errors {result['errors']}, TTFT p50 {result['ttft_ms_p50']} ms p99 {result['ttft_ms_p99']} ms",
        flush=True,
    )
    return result


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        mock, server, mock_url, server_url = start_processes(Path(tmp), args)
        try:
            paths = [
                await sequential("direct", direct(mock_url), args.turns, None),
                await sequential("langserve_stream_events", langserve(server_url), args.turns, server.pid),
                await sequential("chat_stream", chat_stream(server_url), args.turns, server.pid),
                await sequential("websocket", websocket(server_url), args.turns, server.pid),
                await sequential("agent_server_stream", agent_server_stream(server_url, args.turns + 3), args.turns,
                                 server.pid),
            ]
            pair = await paired(("chat_stream", "agent_server_stream"),
                                (chat_stream(server_url), agent_server_stream(server_url, args.turns + 3)),
                                args.turns, server.pid)
            load = await soak(server_url, args.concurrency, args.duration, server.pid) if args.duration > 0 else None
        finally:
            for proc in (server, mock):
                proc.terminate()
                proc.wait(10)
    by = {p["path"]: p for p in paths}
    floor = by["direct"]["ttft_ms_p50"]
    summary = {
        "overhead_ms_p50": {
            name: round(by[name]["ttft_ms_p50"] - floor, 2)
            for name in ("langserve_stream_events", "chat_stream", "websocket", "agent_server_stream")
        },
        "cpu_vs_langserve": {
            name: round(by[name]["server_cpu_ms_per_turn"] / by["langserve_stream_events"]["server_cpu_ms_per_turn"], 2)
            for name in ("chat_stream", "websocket", "agent_server_stream")
        },
        "agent_server_vs_chat_stream": {  # from the paired turns: both paths under the same load
            "ttft_ms_p50": round(pair["ttft_ms_p50"][1] - pair["ttft_ms_p50"][0], 2),
            "ttft_ms_p50_of_differences": pair["ttft_ms_p50_of_differences"],
            "server_cpu_ms_per_turn": round(pair["server_cpu_ms_per_turn"][1] - pair["server_cpu_ms_per_turn"][0], 2),
        },
        "targets": {"overhead_ms_p50_max": 3.0, "cpu_vs_langserve_max": 0.5, "soak_errors": 0,
                    "agent_server_vs_chat_stream_ttft_ms_p50_max": 1.0},
    }
    print(json.dumps(summary, indent=2))
    return {
        "fake_model": {
            "first_token_ms": args.first_token_ms,
            "tokens": args.tokens,
            "token_delay_ms": args.token_delay_ms,
        },
        "checkpointer": args.checkpointer or "sqlite (temporary file)",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "paths": paths,
        "paired": pair,
        "soak": load,
        "summary": summary,
    }


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=50, help="sequential turns per path")
    parser.add_argument("--duration", type=float, default=60, help="soak seconds (0 skips the soak)")
    parser.add_argument("--concurrency", type=int, default=200, help="concurrent streams in the soak")
    parser.add_argument("--first-token-ms", type=float, default=100)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--token-delay-ms", type=float, default=0)
    parser.add_argument("--checkpointer", default=None, help="default: a SQLite file (what a served agent uses)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = asyncio.run(main(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    cli()
