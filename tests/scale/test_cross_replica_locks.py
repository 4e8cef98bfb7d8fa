"""Two replicas given one thread at the same instant: one runs the turn, the other answers 409.

The lock that makes this hold across processes is the checkpointer's (`graphs.locks`): advisory
locks on Postgres, `flock` beside a SQLite file. Every thread is then read back from the database:
its turn counter and its messages show one turn per `200`, never two turns on one snapshot.

Both requests of a pair are sent together, but on a loaded machine one may reach its replica after
the other's turn has ended; then both run, one after the other, which is right too (the read-back
shows two turns). Such pairs do not count: the test goes on until `PAIRS` pairs really overlapped.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest
from _replicas import Replica

PAIRS = {"postgres": 1000, "sqlite": 200}
AT_ONCE = 20
MAX_ROUNDS = 4


async def _turn(client: httpx.AsyncClient, url: str, thread: str) -> tuple[int, list[str]]:
    """POST /chat/stream; the status and the event names it streamed."""
    async with client.stream("POST", f"{url}/chat/stream", json={"message": "hi", "thread_id": thread}) as answer:
        names = [line.removeprefix("event: ") async for line in answer.aiter_lines() if line.startswith("event: ")]
        return answer.status_code, names


async def _race(replicas: list[Replica], pairs: int) -> list[tuple[str, list[tuple[int, list[str]]]]]:
    gate = asyncio.Semaphore(AT_ONCE)
    limits = httpx.Limits(max_connections=AT_ONCE * 2 + 4)

    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        async def pair() -> tuple[str, list[tuple[int, list[str]]]]:
            thread = f"race-{uuid.uuid4().hex}"
            async with gate:
                both = await asyncio.gather(*(_turn(client, r.url, thread) for r in replicas))
            return thread, list(both)

        return await asyncio.gather(*(pair() for _ in range(pairs)))


async def _read_back(plan_file: Path, checkpointer: str, threads: list[str]) -> list[tuple[int, int]]:
    """(turns slot, message count) of every thread, read straight from the checkpointer."""
    from graphs.agent import Agent

    plan = json.loads(plan_file.read_text())
    async with Agent.open(plan, checkpointer=checkpointer, base_dir=plan_file.parent) as agent:
        return [((await agent.state(t)).get("turns"), len(await agent.messages(t))) for t in threads]


@pytest.fixture(params=["postgres", "sqlite"])
def checkpointer_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres"))
    return f"sqlite:///{tmp_path / 'threads.sqlite'}"


def test_one_turn_runs_and_the_other_is_refused(two_replicas: list[Replica], checkpointer_url: str,
                                                slow_plan: Path) -> None:
    target = PAIRS["postgres" if checkpointer_url.startswith("postgres") else "sqlite"]
    overlapped = sequential = 0
    for _ in range(MAX_ROUNDS):
        results = asyncio.run(_race(two_replicas, target - overlapped))
        read = asyncio.run(_read_back(slow_plan, checkpointer_url, [thread for thread, _ in results]))
        for (_, both), (turns, messages) in zip(results, read, strict=True):
            statuses = sorted(status for status, _ in both)
            for status, events in both:
                if status == 200:
                    assert events[0] == "metadata" and events[-1] == "end", events
            if statuses == [200, 409]:
                assert (turns, messages) == (1, 2)  # one turn: one user message, one reply, counted once
                overlapped += 1
            else:
                assert statuses == [200, 200] and (turns, messages) == (2, 4), (statuses, turns, messages)
                sequential += 1
        if overlapped == target:
            break
    assert overlapped == target, f"{overlapped} of {target} pairs overlapped ({sequential} ran one after the other)"
