"""A turn sent again with its message id (the client lost the stream after the turn was saved) is
answered from the thread instead of running twice; the chaos test relies on it across replicas."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from graphs.agent import Agent
from graphs.events import EndEvent, Event, TokenEvent


async def _events(agent: Agent, message: str, message_id: str | None) -> list[Event]:
    return [e async for e in agent.turn(message, thread_id="t", message_id=message_id)]


def test_a_saved_turn_sent_again_is_answered_not_run_again(slow_plan: Path) -> None:
    async def run() -> None:
        plan = json.loads(slow_plan.read_text())
        async with Agent.open(plan, checkpointer="memory") as agent:
            first = await _events(agent, "hello", "m-1")
            again = await _events(agent, "hello", "m-1")
            end, replayed = first[-1], again[-1]
            assert isinstance(end, EndEvent) and isinstance(replayed, EndEvent)
            assert replayed.reply == end.reply and replayed.path == [] and end.path
            assert "".join(e.text for e in again if isinstance(e, TokenEvent)) == end.reply
            assert (await agent.state("t"))["turns"] == 1 and len(await agent.messages("t")) == 2
            await _events(agent, "hello", "m-2")  # a new id is a new turn, even with the same text
            await _events(agent, "hello", None)  # no id: always a new turn
            assert (await agent.state("t"))["turns"] == 3 and len(await agent.messages("t")) == 6

    asyncio.run(run())
