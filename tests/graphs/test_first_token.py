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
