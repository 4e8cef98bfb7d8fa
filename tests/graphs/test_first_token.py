"""The first token of a reply reaches the turn's reader before the rest of a burst is processed: a
model that sends its whole answer at once (the fake model server, a cached reply) must not make the
client wait for the last token to see the first."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _graph_support import plan_of, write_spec

from graphs.agent import Agent
from graphs.events import TokenEvent
from graphs.models.scripted import ScriptedChatModel

SPEC = """
spec: 1
name: burst
models:
  main: {provider: scripted}
default_model: main
nodes:
  answer: {kind: reply, prompt: "Answer."}
edges:
  - {from: start, to: answer}
  - {from: answer, to: end}
"""


def test_the_first_token_is_read_before_the_burst_is_consumed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pulled: list[int] = []
    chunks = ScriptedChatModel._chunks

    def counted(self: ScriptedChatModel, message: Any) -> Iterator[Any]:
        for chunk in chunks(self, message):
            pulled.append(1)
            yield chunk

    monkeypatch.setattr(ScriptedChatModel, "_chunks", counted)
    reply = " ".join(f"word{i}" for i in range(40))

    async def main() -> tuple[int, int]:
        plan = plan_of(write_spec(tmp_path, SPEC))
        async with Agent.open(plan, base_dir=tmp_path, model_override="scripted") as agent:
            at_first: int | None = None
            tokens = 0
            async for event in agent.turn("hi", script={"answer": [reply]}):
                if isinstance(event, TokenEvent):
                    tokens += 1
                    at_first = len(pulled) if at_first is None else at_first
            assert at_first is not None
            return at_first, tokens

    at_first, tokens = asyncio.run(main())
    assert tokens == len(pulled) >= 40
    assert at_first <= 2, f"the reader saw the first token only after {at_first} of {tokens} chunks"


def test_a_burst_comes_as_one_list_after_the_first_token(tmp_path: Path) -> None:
    """`OpenTurn.batches`: the events ready together come in one list (one write on the wire); the
    first token comes alone, and flattening the lists gives exactly `events()`."""
    reply = " ".join(f"word{i}" for i in range(40))

    async def main() -> tuple[list[list[str]], list[str]]:
        plan = plan_of(write_spec(tmp_path, SPEC))
        async with Agent.open(plan, base_dir=tmp_path, model_override="scripted") as agent:
            turn = await agent.open_turn("hi", thread_id="a", script={"answer": [reply]})
            batches = [[event.event for event in batch] async for batch in turn.batches()]
            turn = await agent.open_turn("hi", thread_id="b", script={"answer": [reply]})
            events = [event.event async for event in turn.events()]
            return batches, events

    batches, events = asyncio.run(main())
    assert [name for batch in batches for name in batch] == events
    assert batches[0] == ["metadata"] and batches[-1] == ["state", "end"]
    with_tokens = [batch.count("token") for batch in batches if "token" in batch]
    assert with_tokens[0] == 1, f"the first token waited for others: {with_tokens}"
    assert max(with_tokens) >= 30, f"the burst was not gathered: tokens per list {with_tokens}"
