"""What a user reads in one turn: words of several nodes stay apart; unset slots render as nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from factory.compiler import compile_plan
from factory.language.loader import load_spec
from graphs.agent import Agent

SPEC = """spec: 1
name: greet-then-ask
models: {main: {provider: scripted}}
state: {nickname: {type: string}}
nodes:
  greet: {kind: reply, prompt: Greet the user.}
  ask: {kind: interrupt, message: "What should I call you{{ nickname }}?", into: nickname}
edges:
  - {from: start, to: greet}
  - {from: greet, to: ask}
  - {from: ask, to: end}
"""


def test_a_reply_and_an_interrupt_question_do_not_run_together(tmp_path: Path) -> None:
    spec = tmp_path / "greet.yaml"
    spec.write_text(SPEC)
    plan = compile_plan(load_spec(spec))

    async def turn() -> tuple[str, list[str]]:
        async with Agent.open(plan, checkpointer="memory", model_override="scripted") as agent:
            events = [e async for e in agent.turn("hi", script={"greet": ["Hello there!"]})]
        (end,) = [e.to_data() for e in events if e.event == "end"]
        return end["reply"], [e.to_data()["text"] for e in events if e.event == "token"]

    reply, tokens = asyncio.run(turn())
    assert reply == "Hello there!\n\nWhat should I call you?"
    assert "".join(tokens) == reply
