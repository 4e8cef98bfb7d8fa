"""`graphs.runs`: run streams (replay after an id, follow, keep after the end), and runs of a real agent
(scripted model) that end in success, are cancelled (the thread restored), or are stopped at shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from _serve import CHAT_SPEC

from factory.compiler import compile_plan
from factory.language.loader import load_spec
from graphs.agent import Agent
from graphs.events import Event
from graphs.runs import TAIL, LocalRunStore, LocalRunStream, RunRecord, Runs, StreamItem, StreamName


def _names(event: Event) -> list[tuple[StreamName, bytes]]:
    """An encoder that publishes each factory event's name as a `custom` frame."""
    return [("custom", event.event.encode())]


async def _events(items: AsyncIterator[list[StreamItem]]) -> list[str]:
    """`id:event-name` of each custom frame (`_names`), `id:metadata` for the run's first frame."""
    return [f"{i.id}:{i.data.decode() if i.name == 'custom' else i.name}" async for ready in items for i in ready]


async def _read(items: AsyncIterator[Any]) -> list[str]:
    return [f"{i.id}:{i.name}" async for ready in items for i in ready]


def test_a_stream_replays_after_an_id_then_follows() -> None:
    async def main() -> None:
        stream = LocalRunStream()
        await stream.open("r", keep_s=0)
        for name in ("values", "updates", "custom"):
            await stream.publish("r", name, b"1")
        everything = stream.subscribe("r")
        after_b = stream.subscribe("r", after="1")
        from_start = stream.subscribe("r", after="-1")
        only_new = stream.subscribe("r", after=TAIL)
        readers = [asyncio.create_task(_read(it)) for it in (everything, after_b, from_start, only_new)]
        await asyncio.sleep(0.01)
        await stream.publish("r", "messages", b"1")
        await stream.close("r")
        got = await asyncio.gather(*readers)
        every = ["0:values", "1:updates", "2:custom", "3:messages"]
        assert got == [every, every[2:], every, every[3:]]
        assert await _read(stream.subscribe("r", after="-1")) == []  # not resumable: gone once closed

    asyncio.run(main())


def test_a_resumable_stream_is_kept_for_a_while() -> None:
    async def main() -> None:
        stream = LocalRunStream()
        await stream.open("r", keep_s=0.2)
        await stream.publish("r", "values", b"1")
        await stream.close("r")
        assert await _read(stream.subscribe("r", after="-1")) == ["0:values"]
        await asyncio.sleep(0.3)
        assert await _read(stream.subscribe("r", after="-1")) == []

    asyncio.run(main())


@pytest.mark.parametrize("bad", ["x", "-2", "1.5", ""])
def test_ids_the_stream_never_gave_are_refused_before_reading(bad: str) -> None:
    with pytest.raises(ValueError, match="not an event id"):
        LocalRunStream().subscribe("r", after=bad)


@asynccontextmanager
async def _agent() -> AsyncIterator[Agent]:
    plan = compile_plan(load_spec(CHAT_SPEC))
    async with Agent.open(plan, checkpointer="memory", base_dir=CHAT_SPEC.parent, model_override="scripted") as agent:
        yield agent


async def _start(runs: Runs, agent: Agent, thread: str, run_id: str, after: Any = None) -> None:
    turn = await agent.open_turn("hello", thread_id=thread, run_id=run_id)
    record = RunRecord(run_id=run_id, thread_id=thread, assistant_id="chat-bot", status="running", metadata={},
                       kwargs={})
    await runs.start(record, turn, _names, after=after)


def test_a_run_publishes_its_events_and_records_success() -> None:
    async def main() -> None:
        runs = Runs(LocalRunStore(), LocalRunStream())
        ended: list[RunRecord] = []

        async def after(run: RunRecord) -> None:
            ended.append(run)

        async with _agent() as agent:
            await _start(runs, agent, "t1", "r1", after)
            events = await _events(runs.stream.subscribe("r1"))
            final = await runs.wait("r1")
            assert await agent.state("t1") == {"turns": 1, "mood": None}
        assert events[0] == "0:metadata" and events[-1].endswith(":end") and any(":token" in e for e in events)
        assert final is not None and final.status == "success" and ended[0].status == "success"
        assert await runs.store.active("t1") is None
        assert [r.run_id for r in await runs.store.list("t1", limit=5, offset=0)] == ["r1"]

    asyncio.run(main())


def test_a_cancelled_run_leaves_the_thread_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACTORY_SCRIPTED_TOKEN_DELAY_MS", "50")

    async def main() -> None:
        runs = Runs(LocalRunStore(), LocalRunStream())
        async with _agent() as agent:
            await _start(runs, agent, "t2", "r1")
            await runs.wait("r1")
            before = await agent.messages("t2")
            await _start(runs, agent, "t2", "r2")
            async for ready in runs.stream.subscribe("r2"):
                if any(item.data == b"token" for item in ready):
                    break
            assert (await runs.store.active("t2")) is not None
            await runs.cancel("r2")
            final = await runs.wait("r2")
            assert final is not None and final.status == "interrupted"
            assert await agent.messages("t2") == before and await agent.state("t2") == {"turns": 1, "mood": None}
            assert not agent.is_busy("t2")

    asyncio.run(main())


def test_shutdown_stops_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACTORY_SCRIPTED_TOKEN_DELAY_MS", "50")

    async def main() -> None:
        runs = Runs(LocalRunStore(), LocalRunStream())
        async with _agent() as agent:
            await _start(runs, agent, "a", "r1")
            await _start(runs, agent, "b", "r2")
            await asyncio.sleep(0.05)
            await runs.shutdown()
            statuses = [(await runs.store.get(r)).status for r in ("r1", "r2")]  # type: ignore[union-attr]
            assert statuses == ["interrupted", "interrupted"]
            assert await agent.messages("a") == [] and not agent.is_busy("b")

    asyncio.run(main())
