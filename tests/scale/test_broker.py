"""Run streams across replicas (`serve.broker`): two replicas on one Postgres and one Redis. A
background run started on one is joined, resumed after a given event (`Last-Event-ID`), waited for
and cancelled through the other. Without the broker the other replica does not know the run.

Skipped without Redis or Postgres unless FACTORY_REQUIRE_REDIS=1 / FACTORY_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _replicas import Replica, start_replica

pytestmark = pytest.mark.postgres

ENV = {"FACTORY_SCRIPTED_TOKEN_DELAY_MS": "250"}  # a run takes ~3 s: time to join and cancel it


@pytest.fixture
def brokered(slow_plan: Path, postgres: str, redis_url: str) -> Iterator[list[Replica]]:
    env = {**ENV, "FACTORY_BROKER": redis_url}
    replicas = [start_replica(slow_plan, checkpointer=postgres, env=env) for _ in range(2)]
    try:
        yield replicas
    finally:
        for replica in replicas:
            replica.stop()


def _background_run(url: str) -> tuple[str, str]:
    thread = httpx.post(f"{url}/threads", json={"metadata": {}}, timeout=10).json()["thread_id"]
    run = httpx.post(f"{url}/threads/{thread}/runs", timeout=10, json={
        "assistant_id": "slow-counter", "input": {"messages": [{"type": "human", "content": "hi"}]},
        "stream_mode": ["values", "messages-tuple"], "stream_resumable": True})
    assert run.status_code == 200, run.text
    return thread, run.json()["run_id"]


def _events(url: str, thread: str, run: str, *, last_event_id: str | None = None,
            stop_after: int | None = None) -> list[tuple[str, str, Any]]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    found: list[tuple[str, str, Any]] = []
    with httpx.stream("GET", f"{url}/threads/{thread}/runs/{run}/stream", headers=headers, timeout=60) as answer:
        assert answer.status_code == 200, answer.read()
        event_id = name = ""
        for line in answer.iter_lines():
            if line.startswith("id: "):
                event_id = line.removeprefix("id: ")
            elif line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                found.append((event_id, name, json.loads(line.removeprefix("data: "))))
                if stop_after is not None and len(found) >= stop_after:
                    break
    return found


def test_a_run_started_on_one_replica_is_joined_and_resumed_on_the_other(brokered: list[Replica]) -> None:
    a, b = brokered
    thread, run = _background_run(a.url)
    first = _events(a.url, thread, run, last_event_id="-1", stop_after=4)  # a client that then goes away
    rest = _events(b.url, thread, run, last_event_id=first[-1][0])  # ...and reconnects to the other replica
    whole = _events(b.url, thread, run, last_event_id="-1")  # the run's every kept event
    assert [e[0] for e in first + rest] == [e[0] for e in whole]
    assert first[0][1] == "metadata" and whole[-1][1] == "values"
    assert any(name == "messages" for _, name, _ in rest), "the reconnect got the tokens it missed"
    assert httpx.get(f"{b.url}/threads/{thread}/runs/{run}", timeout=10).json()["status"] == "success"
    state = httpx.get(f"{b.url}/threads/{thread}/runs/{run}/join", timeout=30).json()
    assert state["turns"] == 1 and len(state["messages"]) == 2


def test_a_run_is_waited_for_and_cancelled_through_the_other_replica(brokered: list[Replica]) -> None:
    a, b = brokered
    thread, run = _background_run(a.url)
    joined = httpx.get(f"{b.url}/threads/{thread}/runs/{run}/join", timeout=60).json()
    assert joined["turns"] == 1
    _, second = _background_run_on(a.url, thread)
    assert _events(b.url, thread, second, last_event_id="-1", stop_after=1)  # its events reach the other replica
    cancelled = httpx.post(f"{b.url}/threads/{thread}/runs/{second}/cancel?wait=1", timeout=60)
    assert cancelled.status_code == 204, cancelled.text
    assert httpx.get(f"{a.url}/threads/{thread}/runs/{second}", timeout=10).json()["status"] == "interrupted"
    state = httpx.post(f"{b.url}/threads/{thread}/history", json={"limit": 1}, timeout=10).json()[0]["values"]
    assert state["turns"] == 1 and len(state["messages"]) == 2  # as it was before the cancelled run


def _background_run_on(url: str, thread: str) -> tuple[str, str]:
    run = httpx.post(f"{url}/threads/{thread}/runs", timeout=10, json={
        "assistant_id": "slow-counter", "input": {"messages": [{"type": "human", "content": "again"}]},
        "stream_resumable": True})
    assert run.status_code == 200, run.text
    return thread, run.json()["run_id"]


def test_without_a_broker_the_other_replica_does_not_know_the_run(slow_plan: Path, postgres: str) -> None:
    replicas = [start_replica(slow_plan, checkpointer=postgres, env={**ENV, "FACTORY_BROKER": "none"})
                for _ in range(2)]
    try:
        thread, run = _background_run(replicas[0].url)
        assert httpx.get(f"{replicas[1].url}/threads/{thread}/runs/{run}", timeout=10).status_code == 404
        httpx.get(f"{replicas[0].url}/threads/{thread}/runs/{run}/join", timeout=60)
    finally:
        for replica in replicas:
            replica.stop()
