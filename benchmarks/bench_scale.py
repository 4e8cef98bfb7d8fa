"""Scale benchmark: turns per second and time to first token with 1, 2 and 4 workers.

One server (`python -m graphs.server --workers N`, the image's entrypoint) on a shared checkpointer
(Postgres when it answers, else SQLite), the in-process scripted model (a ~12-token reply, with
`--token-delay-ms` between tokens, so the figures are the server's own cost), and `--concurrency`
clients (default 100) each running turns back to back on their own threads through `POST
/chat/stream` for `--duration` seconds. Time to first token is measured by the client, from sending
the request to reading the first `token` event. Every failure is counted.

    .venv/bin/python benchmarks/bench_scale.py [--workers 1 2 4] [--duration 20] [--concurrency 100]

Writes `benchmarks/results/scale.json`. On a 2-core machine expect little gain past 2 workers (the
client itself needs CPU too); the machine's load average is recorded with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
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
RESULTS = ROOT / "benchmarks" / "results" / "scale.json"
PG_URL = os.environ.get("FACTORY_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test")
SPEC = """\
spec: 1
name: scale-bench
description: Counts turns and answers; the scale benchmark's agent.
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


def checkpointer(folder: Path) -> str:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("select 1")
        return PG_URL
    except Exception:
        return f"sqlite:///{folder / 'threads.sqlite'}"


def start(plan_file: Path, workers: int, url: str, token_delay_ms: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FACTORY_SCRIPTED_TOKEN_DELAY_MS": str(token_delay_ms)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphs.server", "--plan", str(plan_file), "--port", str(port), "--checkpointer", url,
         "--workers", str(workers), "--log-level", "warning"], env=env, cwd=ROOT,
        stderr=open(os.environ.get("BENCH_SCALE_LOG", os.devnull), "ab"))  # noqa: SIM115
    server = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{server}/ready", proc, timeout=120)
    except RuntimeError:
        proc.kill()
        raise
    return proc, server


async def load(server: str, *, concurrency: int, duration: float, warmup: float) -> dict[str, Any]:
    ttfts: list[float] = []
    done = failed = 0
    run = uuid.uuid4().hex[:8]
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        begin = time.monotonic()
        measure_from, stop_at = begin + warmup, begin + warmup + duration

        async def user(n: int) -> None:
            nonlocal done, failed
            turn = 0
            while time.monotonic() < stop_at:
                sent = time.monotonic()
                first, ok = None, False
                try:
                    body = {"message": "hi", "thread_id": f"scale-{run}-{n}-{turn // 5}"}
                    async with client.stream("POST", f"{server}/chat/stream", json=body) as answer:
                        name = ""
                        async for line in answer.aiter_lines():
                            if line.startswith("event: "):
                                name = line.removeprefix("event: ")
                                if name == "token" and first is None:
                                    first = time.monotonic() - sent
                        ok = answer.status_code == 200 and name == "end"
                except httpx.HTTPError:
                    ok = False
                turn += 1
                if sent >= measure_from and time.monotonic() <= stop_at:
                    done += ok
                    failed += not ok
                    if ok and first is not None:
                        ttfts.append(first)

        await asyncio.gather(*(user(n) for n in range(concurrency)))
    ttfts.sort()
    pick = lambda q: round(ttfts[min(len(ttfts) - 1, int(q * len(ttfts)))] * 1000, 1) if ttfts else None  # noqa: E731
    return {"turns": done, "failed": failed, "turns_per_s": round(done / duration, 1),
            "ttft_ms_p50": pick(0.5), "ttft_ms_p99": pick(0.99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=10.0, help="load before measuring (workers still starting)")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--token-delay-ms", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from factory.compiler import compile_plan
    from factory.language.loader import load_spec

    results: dict[str, Any] = {"runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "scale.yaml").write_text(SPEC)
        plan_file = folder / "plan.json"
        plan_file.write_text(json.dumps(compile_plan(load_spec(folder / "scale.yaml"))))
        url = checkpointer(folder)
        for workers in args.workers:
            proc, server = start(plan_file, workers, url, args.token_delay_ms)
            try:
                load_before = os.getloadavg()[0]
                figures = asyncio.run(load(server, concurrency=args.concurrency, duration=args.duration,
                                           warmup=args.warmup))
            finally:
                proc.terminate()
                proc.wait(60)
            row = {"workers": workers, **figures, "load_average_1m_before": round(load_before, 1)}
            print(json.dumps(row), flush=True)
            results["runs"].append(row)
    results["settings"] = {"concurrency": args.concurrency, "duration_s": args.duration, "warmup_s": args.warmup,
                           "token_delay_ms": args.token_delay_ms, "reply_tokens": 12,
                           "checkpointer": url.split("://")[0], "endpoint": "POST /chat/stream"}
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
