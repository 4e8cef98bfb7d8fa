"""Long conversations: what one turn costs the server as a thread's history grows.

One thread, `--turns` turns (default 1000) over `POST /chat/stream` (SQLite checkpointer, the
fake model: 100 ms to first token, 51 words per reply), twice: the spec as is, and with a history
window (`history: {last: 20}` on the model). At 10, 100, 500 and 1,000 turns it reports the time to
first token p50 (client side) and the server's CPU per turn (every thread's, from the scheduler's
nanosecond counts in `/proc/<pid>/task/*/schedstat`) over the `--window` turns that end there, each
followed by a turn of a new thread: this machine's speed drifts over a run of several minutes, so
the long thread's cost is also given as a ratio to a short conversation's measured interleaved with
it (`cpu_vs_fresh`; at the first mark both are short).

    .venv/bin/python benchmarks/bench_history.py [--turns 1000] [--window 10] [--profile DIR]

`--profile DIR` records a py-spy flame graph of the server over the last window of each variant
(`DIR/<variant>.txt`, py-spy's collapsed stacks; py-spy from PyPI). Writes `benchmarks/results/history.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_streaming import free_port, wait_ready  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "history.json"
SPEC = """\
spec: 1
name: history-bot
description: Counts turns and answers; the history benchmark's agent.
models:
  main: {provider: openai, model: mock, max_retries: 0, timeout_s: 60%(history)s}
default_model: main
state:
  turns: {type: integer, default: 0}
prompts:
  answer: You are a patient assistant in a long conversation.
nodes:
  count_turn: {kind: set, values: {turns: "state.turns + 1"}}
  answer: {kind: reply, prompt: answer}
edges:
  - {from: start, to: count_turn}
  - {from: count_turn, to: answer}
  - {from: answer, to: end}
"""
MARKS = (10, 100, 500, 1000)


def start(work: Path, *, history: bool) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], str]:
    script = work / "script.json"
    words = " ".join(f"word{i}" for i in range(51))
    script.write_text(json.dumps({"default": {"text": words, "first_token_delay_ms": 100}}))
    mock_port, server_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "bench"}
    mock = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from factory.mockllm.cli import mock_llm_command; "
         "mock_llm_command(Path(sys.argv[1]), port=int(sys.argv[2]))", str(script), str(mock_port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mock_url = f"http://127.0.0.1:{mock_port}"
    wait_ready(f"{mock_url}/v1/models", mock)
    from factory.compiler import compile_plan
    from factory.language.loader import load_spec

    (work / "bench.yaml").write_text(SPEC % {"history": ", history: {last: 20}" if history else ""})
    plan = compile_plan(load_spec(work / "bench.yaml"))
    plan["models"]["main"]["base_url"] = f"{mock_url}/v1"
    (work / "plan.json").write_text(json.dumps(plan))
    server = subprocess.Popen(
        [sys.executable, "-m", "graphs.server", "--plan", str(work / "plan.json"), "--base-dir", str(work),
         "--port", str(server_port), "--checkpointer", f"sqlite:///{work / 'history.sqlite'}",
         "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL)
    server_url = f"http://127.0.0.1:{server_port}"
    wait_ready(f"{server_url}/ready", server)
    return mock, server, server_url


async def one_turn(client: httpx.AsyncClient, url: str, thread: str, turn: int) -> float:
    """Time to the first `token` event, in ms; raises on anything but a clean turn."""
    started = time.perf_counter()
    first: float | None = None
    body = {"message": f"Turn {turn}: tell me more about the plan.", "thread_id": thread}
    async with client.stream("POST", f"{url}/chat/stream", json=body) as answer:
        answer.raise_for_status()
        last = ""
        async for line in answer.aiter_lines():
            if line.startswith("event: "):
                last = line.removeprefix("event: ")
                if last == "token" and first is None:
                    first = (time.perf_counter() - started) * 1000
                if last == "error":
                    raise RuntimeError(f"turn {turn} failed")
    if first is None or last != "end":
        raise RuntimeError(f"turn {turn} ended without tokens or without `end`")
    return first


def cpu_ns(pid: int) -> int:
    """The CPU time of every thread of `pid`, in ns (the scheduler's own count: `/proc/.../stat`
    counts in 10 ms ticks, too coarse for one turn)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that just ended
            total += int((task / "schedstat").read_text().split()[0])
    return total


async def timed_turn(client: httpx.AsyncClient, url: str, pid: int, thread: str, turn: int) -> tuple[float, float]:
    """One turn: (time to first token, server CPU), in ms."""
    before = cpu_ns(pid)
    ttft = await one_turn(client, url, thread, turn)
    return ttft, (cpu_ns(pid) - before) / 1e6


async def variant(*, history: bool, turns: int, window: int, profile: Path | None) -> dict[str, Any]:
    """The long thread's turns, and at each mark its last `window` turns each followed by a turn of a
    new thread (interleaved, so both see the machine at the same speed: it drifts over a long run)."""
    name = "window" if history else "no_window"
    with tempfile.TemporaryDirectory() as tmp:
        mock, server, url = start(Path(tmp), history=history)
        try:
            thread = uuid.uuid4().hex
            marks = [m for m in MARKS if m <= turns] or [turns]
            rows: dict[str, Any] = {}
            measured: dict[str, list[tuple[float, float]]] = {"long": [], "fresh": []}
            fresh = uuid.uuid4().hex
            async with httpx.AsyncClient(timeout=120) as client:
                spy = None
                for turn in range(1, turns + 1):
                    if profile is not None and turn == marks[-1] - window + 1:
                        profile.mkdir(parents=True, exist_ok=True)
                        spy = subprocess.Popen(
                            [str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(server.pid),
                             "-o", str(profile / f"{name}.txt"), "-f", "raw", "-r", "200"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    mark = next(m for m in marks if m >= turn) if turn <= marks[-1] else None
                    if mark is None or turn <= mark - window:
                        await one_turn(client, url, thread, turn)
                        continue
                    measured["long"].append(await timed_turn(client, url, server.pid, thread, turn))
                    step = len(measured["fresh"]) + 1
                    measured["fresh"].append(await timed_turn(client, url, server.pid, fresh, step))
                    if turn == mark:
                        row = rows[str(turn)] = {
                            "ttft_p50_ms": round(statistics.median(t for t, _ in measured["long"]), 2),
                            "cpu_per_turn_ms": round(statistics.mean(c for _, c in measured["long"]), 2),
                            "fresh_ttft_p50_ms": round(statistics.median(t for t, _ in measured["fresh"]), 2),
                            "fresh_cpu_per_turn_ms": round(statistics.mean(c for _, c in measured["fresh"]), 2),
                        }
                        row["cpu_vs_fresh"] = round(row["cpu_per_turn_ms"] / row["fresh_cpu_per_turn_ms"], 2)
                        print(f"{name:10s} turn {turn:5d}  TTFT p50 {row['ttft_p50_ms']:8.2f} ms  "
                              f"server CPU/turn {row['cpu_per_turn_ms']:6.2f} ms  | a new thread, interleaved: "
                              f"{row['fresh_ttft_p50_ms']:8.2f} ms, {row['fresh_cpu_per_turn_ms']:6.2f} ms  "
                              f"| CPU {row['cpu_vs_fresh']}x", flush=True)
                        measured = {"long": [], "fresh": []}
                        fresh = uuid.uuid4().hex
                if spy is not None:
                    spy.send_signal(2)
                    spy.wait(60)
            first, last = rows[str(marks[0])], rows[str(marks[-1])]
            return {"marks": rows, "cpu_growth": round(last["cpu_per_turn_ms"] / first["cpu_per_turn_ms"], 2),
                    "ttft_growth": round(last["ttft_p50_ms"] / first["ttft_p50_ms"], 2),
                    "cpu_vs_fresh_at_last": last["cpu_vs_fresh"]}
        finally:
            for proc in (server, mock):
                proc.terminate()
                proc.wait(10)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "turns": args.turns, "window_turns": args.window,
        "model": "mock-llm, 100 ms to first token, 51 words per reply",
    }
    for history in (False, True)[: 1 if args.no_window_only else 2]:
        results["window" if history else "no_window"] = await variant(
            history=history, turns=args.turns, window=args.window, profile=args.profile)
    results["targets"] = {"with_window_cpu_growth_max": 1.2, "with_window_cpu_vs_fresh_max": 1.2}
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--window", type=int, default=20, help="turns averaged at each mark")
    parser.add_argument("--profile", type=Path, default=None, help="folder for py-spy flame graphs")
    parser.add_argument("--no-window-only", action="store_true", help="skip the variant with a window")
    parser.add_argument("--out", type=Path, default=RESULTS)
    arguments = parser.parse_args()
    outcome = asyncio.run(main(arguments))
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(outcome, indent=2) + "\n")
    print(json.dumps({k: v for k, v in outcome.items() if k in ("no_window", "window")}, indent=2))
    print(f"wrote {arguments.out}")
