"""`GET /metrics` of a real server with two workers: the counts equal what the clients saw, summed
over the workers (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from _replicas import start_replica
from prometheus_client.parser import text_string_to_metric_families

SPEC = """\
spec: 1
name: metered
description: Answers, or fails when told to.
models: {main: {provider: scripted}}
state:
  turns: {type: integer, default: 0}
nodes:
  check: {kind: python, function: "failnode:check"}
  answer: {kind: reply, prompt: Answer.}
edges:
  - {from: start, to: check}
  - {from: check, to: answer}
  - {from: answer, to: end}
"""

FAILNODE = '''
def check(state):
    if state["messages"][-1]["content"] == "fail":
        raise RuntimeError("asked to fail")
    return {"turns": state["turns"] + 1}
'''


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def _turn(client: httpx.AsyncClient, url: str, thread: str, message: str = "hi") -> tuple[int, str]:
    async with client.stream("POST", f"{url}/chat/stream", json={"message": message, "thread_id": thread}) as r:
        last = ""
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                last = line.removeprefix("event: ")
        return r.status_code, last


async def _traffic(url: str) -> list[tuple[int, str]]:
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        results = list(await asyncio.gather(*(_turn(client, url, f"m-{i}") for i in range(12))))
        results += await asyncio.gather(*(_turn(client, url, f"f-{i}", "fail") for i in range(3)))
        for i in range(6):  # two turns of one thread at once: one of them may be refused
            results += await asyncio.gather(_turn(client, url, f"race-{i}"), _turn(client, url, f"race-{i}"))
        return results


def test_metrics_count_turns_by_outcome_errors_and_refusals_across_workers(tmp_path: Path) -> None:
    from factory.compiler import compile_plan
    from factory.language.loader import load_spec

    (tmp_path / "metered.yaml").write_text(SPEC)
    (tmp_path / "failnode.py").write_text(FAILNODE)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(compile_plan(load_spec(tmp_path / "metered.yaml"))))
    replica = start_replica(plan_file, checkpointer=f"sqlite:///{tmp_path / 'threads.sqlite'}",
                            args=("--workers", "2"), env={"FACTORY_SCRIPTED_TOKEN_DELAY_MS": "40"})
    try:
        results = asyncio.run(_traffic(replica.url))
        answer = httpx.get(f"{replica.url}/metrics", timeout=10)
    finally:
        replica.stop()
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    found = samples(answer.text)
    agent = ("agent", "metered")
    ok = sum(1 for status, last in results if status == 200 and last == "end")
    failed = sum(1 for status, last in results if status == 200 and last == "error")
    busy = sum(1 for status, _ in results if status == 409)
    assert failed == 3 and ok + busy == 24
    assert found[("factory_turns_total", (agent, ("outcome", "ok")))] == ok
    assert found[("factory_turns_total", (agent, ("outcome", "error")))] == failed
    assert found[("factory_turn_errors_total", (agent, ("code", "python_error")))] == failed
    assert found.get(("factory_busy_refusals_total", (agent,)), 0) == busy
    assert found[("factory_turn_first_token_seconds_count", (agent,))] == ok
    assert found[("factory_turn_duration_seconds_count", (agent, ("outcome", "ok")))] == ok
    assert found[("factory_active_streams", (agent,))] == 0
