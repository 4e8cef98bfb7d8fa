"""A/B: one change's effect on time to first token and server CPU per turn, both sides in one run.

The same plan (`bench_streaming.py`'s agent and fake model) is served by two source trees at once,
each a git revision checked out in a temporary worktree (`-` is the working tree), and the turns
alternate between them (ABBA), so both see the machine at the same speed: on a shared machine whose
speed drifts, figures from separate runs cannot be compared. CPU is the scheduler's nanosecond count
over every thread of each server (`bench_history.cpu_ns`). The figures of `docs/design.md`'s
"Where one turn's time goes" were measured this way.

    .venv/bin/python benchmarks/bench_ab.py f564cdf~1 f564cdf [--path chat|agent] [--turns 150]

Writes `benchmarks/results/ab.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_history import cpu_ns  # noqa: E402
from bench_streaming import (  # noqa: E402
    ROOT,
    Measure,
    agent_server_stream,
    chat_stream,
    direct,
    free_port,
    start_processes,
    wait_ready,
)

RESULTS = ROOT / "benchmarks" / "results" / "ab.json"


def checkout(revision: str, stack: ExitStack) -> Path:
    """A worktree of `revision` (removed when `stack` closes); the working tree for `-`."""
    if revision == "-":
        return ROOT
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(folder), revision], cwd=ROOT, check=True)
    stack.callback(subprocess.run, ["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=False)
    return folder


def serve(tree: Path, work: Path, name: str) -> tuple[subprocess.Popen[bytes], str]:
    """The plan in `work` served by the source tree `tree`, on its own SQLite file."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(tree), "OPENAI_API_KEY": "bench"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphs.server", "--plan", str(work / "plan.json"), "--base-dir", str(work),
         "--port", str(port), "--checkpointer", f"sqlite:///{work / f'{name}.sqlite'}", "--log-level", "warning"],
        env=env, cwd=tree, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/ready", proc)
    return proc, url


async def compare(args: argparse.Namespace) -> dict[str, Any]:
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fake = argparse.Namespace(tokens=args.tokens, first_token_ms=100, token_delay_ms=0, checkpointer=None)
        mock, own_server, mock_url, _ = start_processes(work, fake)
        own_server.terminate()
        servers = [serve(checkout(revision, stack), work, f"side{i}") for i, revision in enumerate(args.revisions)]
        try:
            measures: list[Measure] = [
                agent_server_stream(url, args.turns + 10) if args.path == "agent" else chat_stream(url)
                for _, url in servers]
            ttft: list[list[float]] = [[], []]
            cpu = [0, 0]
            floor: list[float] = []
            async with httpx.AsyncClient(timeout=60) as client:
                for measure in measures:
                    for _ in range(5):  # warm up connections, imports, caches
                        await measure(client)
                for turn in range(args.turns):
                    for side in (0, 1) if turn % 2 else (1, 0):
                        before = cpu_ns(servers[side][0].pid)
                        ttft[side].append(await measures[side](client))
                        cpu[side] += cpu_ns(servers[side][0].pid) - before
                    if turn % 4 == 0:
                        floor.append(await direct(mock_url)(client))
        finally:
            for proc in [*(p for p, _ in servers), mock]:
                proc.terminate()
                proc.wait(10)
    model_ms = statistics.median(floor) * 1000
    sides = []
    for revision, times, spent in zip(args.revisions, ttft, cpu, strict=True):
        figures = {"revision": revision, "ttft_ms_p50": round(statistics.median(times) * 1000, 2),
                "ttft_ms_over_model": round(statistics.median(times) * 1000 - model_ms, 2),
                "server_cpu_ms_per_turn": round(spent / args.turns / 1e6, 2)}
        print(f"{revision:20s} TTFT p50 {figures['ttft_ms_p50']:8.2f} ms (+{figures['ttft_ms_over_model']:.2f} "
              f"over the model)  server CPU/turn {figures['server_cpu_ms_per_turn']:.2f} ms", flush=True)
        sides.append(figures)
    return {"path": args.path, "turns": args.turns, "model_ttft_ms_p50": round(model_ms, 2), "sides": sides}


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revisions", nargs=2, help="two git revisions (`-`: the working tree)")
    parser.add_argument("--path", choices=["chat", "agent"], default="chat",
                        help="`/chat/stream`, or the Agent Server API's runs/stream")
    parser.add_argument("--turns", type=int, default=150, help="turns per side")
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = asyncio.run(compare(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    cli()
