"""Benchmark the local model (llama.cpp, SmolLM2-135M): speed, and what it gets right.

    .venv/bin/python benchmarks/bench_local_model.py [--repeat 3] [--skip-sales] [--skip-fix]

Prints the figures and writes benchmarks/results/local_model.json:

- tokens per second and time to first token, straight from the server (the OpenAI client, streamed);
- time to first token through `factory serve --model local` and `POST /chat/stream`;
- the sales spec's pass rate on the local model (`factory test --model local --repeat N`);
- the fix loop's pass rate before and after, on a copy of the sales spec with a seeded fault, with the
  conversations scripted and the local model as the patcher.

The local server is started or reused (`graphs.models.local`); the figures are not asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphs.models.local import ensure_local_server  # noqa: E402

PROMPT = "Write three short sentences about the sea."
REPLY_SPEC = """spec: 1
name: bench-reply
models: {main: {provider: openai, model: local, max_tokens: 64}}
default_model: main
nodes: {answer: {kind: reply, prompt: You are a helpful assistant. Answer in two sentences.}}
edges: [{from: start, to: answer}, {from: answer, to: end}]
"""


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    env.pop("FACTORY_MODEL", None)
    return env


def _factory(*args: str, cwd: Path, timeout: float = 7200) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "import sys; from factory.cli import main; sys.exit(main())", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=_env(), timeout=timeout, check=False)


def direct(base_url: str, runs: int) -> dict[str, Any]:
    """Streamed completions straight from the server: TTFT and decode speed."""
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key="local")
    ttft, rates, counts = [], [], []
    for _ in range(runs):
        start, first, pieces = time.perf_counter(), None, 0
        for chunk in client.chat.completions.create(model="local", stream=True, max_tokens=128, temperature=0,
                                                    messages=[{"role": "user", "content": PROMPT}]):
            if chunk.choices and chunk.choices[0].delta.content:
                pieces += 1
                first = first or time.perf_counter()
        end = time.perf_counter()
        assert first is not None
        ttft.append((first - start) * 1000)
        rates.append((pieces - 1) / (end - first) if end > first else 0.0)
        counts.append(pieces)
    return {"runs": runs, "ttft_ms_median": round(statistics.median(ttft), 1),
            "tokens_per_s_median": round(statistics.median(rates), 1), "tokens_median": statistics.median(counts)}


def through_serve(runs: int, work: Path) -> dict[str, Any]:
    """`factory serve --model local` on a one-node spec; TTFT of `POST /chat/stream`."""
    import httpx

    (work / "reply.yaml").write_text(REPLY_SPEC, "utf-8")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (work / "serve.log").open("wb")
    command = [sys.executable, "-c", "import sys; from factory.cli import main; sys.exit(main())", "serve",
               "reply.yaml", "--port", str(port), "--checkpointer", "memory", "--model", "local"]
    server = subprocess.Popen(command, cwd=work, env=_env(), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        ttft, total = [], []
        for i in range(runs):
            start, first = time.perf_counter(), None
            body = {"message": PROMPT, "thread_id": f"bench-{i}"}
            with httpx.stream("POST", f"{url}/chat/stream", json=body, timeout=300) as answer:
                for line in answer.iter_lines():
                    if first is None and line.startswith("event:") and line.split(":", 1)[1].strip() == "token":
                        first = time.perf_counter()
            end = time.perf_counter()
            ttft.append(((first or end) - start) * 1000)
            total.append((end - start) * 1000)
        return {"runs": runs, "ttft_ms_median": round(statistics.median(ttft), 1),
                "total_ms_median": round(statistics.median(total), 1)}
    finally:
        server.terminate()
        server.wait(15)


def sales(repeat: int, work: Path) -> dict[str, Any]:
    """The sales spec's conversations on the local model (their scripts are ignored by a real model)."""
    report = work / "sales.json"
    started = time.perf_counter()
    done = _factory("test", str(ROOT / "specs" / "sales_discovery.yaml"), "--model", "local", "--repeat", str(repeat),
                    "--json", str(report), cwd=work)
    data = json.loads(report.read_text("utf-8"))
    attempts = [a for r in data["reports"] for res in r["results"] for a in res["attempts"]]
    failing: dict[str, str] = {}
    for attempt in attempts:
        for turn in attempt["turns"]:
            for check in turn["expectations"]:
                if not check["passed"] and attempt["name"] not in failing:
                    failing[attempt["name"]] = f"{check['kind']}: {check['message']}"[:200]
            if turn.get("error") and attempt["name"] not in failing:
                failing[attempt["name"]] = f"error: {turn['error']}"[:200]
    passed = sum(1 for a in attempts if a["passed"])
    names = {res["name"] for r in data["reports"] for res in r["results"]}
    return {"repeat": repeat, "conversations": len(names), "attempts": len(attempts), "attempts_passed": passed,
            "pass_rate": round(passed / len(attempts), 3) if attempts else 0.0, "exit_code": done.returncode,
            "seconds": round(time.perf_counter() - started, 1), "first_failure_per_conversation": failing}


def fix(work: Path, max_iterations: int) -> dict[str, Any]:
    """The demo's seeded fault (the budget route says "budgte"), the local model as the patcher."""
    folder = work / "fix"
    folder.mkdir()
    shutil.copy(ROOT / "specs" / "sales_discovery.yaml", folder)
    shutil.copy(ROOT / "specs" / "sales_tools.py", folder)
    shutil.copytree(ROOT / "specs" / "prompts", folder / "prompts")
    spec = folder / "sales_discovery.yaml"
    spec.write_text(spec.read_text("utf-8").replace("state.stage == \"budget\"'", "state.stage == \"budgte\"'"),
                    "utf-8")
    started = time.perf_counter()
    done = _factory("fix", str(spec), "--model", "scripted", "--patcher-model", "local", "--runner", "inprocess",
                    "--max-iterations", str(max_iterations), "--report", str(work / "fix-report"), cwd=work)
    outcome = json.loads((work / "fix-report.json").read_text("utf-8"))
    return {"passed_before": outcome["passed_before"], "passed_after": outcome["passed_after"],
            "total": outcome["total"], "stop": outcome["stop"], "llm_calls": outcome["llm_calls"],
            "attempts": [{"verdict": a["verdict"], "reason": a["reason"][:200]} for a in outcome["attempts"]],
            "exit_code": done.returncode, "seconds": round(time.perf_counter() - started, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fix-iterations", type=int, default=2)
    parser.add_argument("--skip-sales", action="store_true")
    parser.add_argument("--skip-fix", action="store_true")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "local_model.json")
    args = parser.parse_args()

    server = ensure_local_server()
    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "model": Path(server.model).name,
        "threads": os.environ.get("FACTORY_LOCAL_LLM_THREADS") or max(1, (os.cpu_count() or 1) // 2),
    }
    results["direct"] = direct(server.base_url, args.runs)
    print(f"direct: {results['direct']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-local-") as tmp:
        work = Path(tmp)
        results["chat_stream"] = through_serve(args.runs, work)
        print(f"/chat/stream: {results['chat_stream']}", flush=True)
        if not args.skip_sales:
            results["sales"] = sales(args.repeat, work)
            print(f"sales on the local model: {results['sales']}", flush=True)
        if not args.skip_fix:
            results["fix"] = fix(work, args.fix_iterations)
            print(f"fix with the local patcher: {results['fix']}", flush=True)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
