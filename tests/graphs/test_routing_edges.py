"""Routing when the conditions cover an enum: an unset slot is a clear `no_route` error."""

from __future__ import annotations

import asyncio
from pathlib import Path

from factory.compiler import compile_plan
from factory.language.loader import load_spec
from graphs.agent import Agent
from graphs.nodes.extract import slot_schema

SPEC = """spec: 1
name: covered
models: {main: {provider: scripted}}
state: {mood: {type: string, enum: [happy, sad]}}
nodes:
  cheer: {kind: reply, prompt: Cheer.}
  comfort: {kind: reply, prompt: Comfort.}
edges:
  - {from: start, to: cheer, when: 'state.mood == "happy"'}
  - {from: start, to: comfort, when: 'state.mood == "sad"'}
  - {from: cheer, to: end}
  - {from: comfort, to: end}
"""


def test_an_unset_enum_slot_matches_no_covering_edge(tmp_path: Path) -> None:
    spec = tmp_path / "covered.yaml"
    spec.write_text(SPEC)
    plan = compile_plan(load_spec(spec))

    async def turn() -> dict[str, object]:
        async with Agent.open(plan, checkpointer="memory", model_override="scripted") as agent:
            events = [e async for e in agent.turn("hi")]
        (error,) = [e.to_data() for e in events if e.event == "error"]
        return error

    error = asyncio.run(turn())
    assert error["code"] == "no_route"
    assert error["message"] == "no edge from 'start' holds (unset slots: ['mood'])"


def test_a_list_slot_enum_constrains_its_items() -> None:
    schema = slot_schema({"type": "list[string]", "description": None, "default": None, "enum": ["a", "b"],
                          "reducer": "append"})
    assert schema == {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}
