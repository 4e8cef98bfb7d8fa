"""A test's script and mocks belong to its thread: a new thread with the same id inherits nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from factory.compiler import compile_plan
from factory.language.loader import load_spec
from graphs.agent import Agent

SPEC = """spec: 1
name: scoped
models: {main: {provider: scripted}}
state: {found: {type: object}}
tools:
  lookup: {description: Look up., returns: {source: real}}
nodes:
  look: {kind: tool, tool: lookup, into: found}
  answer: {kind: reply, prompt: Answer.}
edges:
  - {from: start, to: look}
  - {from: look, to: answer}
  - {from: answer, to: end}
"""


async def _turn(plan: Any, folder: Path, **fixtures: Any) -> dict[str, Any]:
    async with Agent.open(plan, checkpointer="memory", base_dir=folder, model_override="scripted") as agent:
        events = [e async for e in agent.turn("hi", thread_id="same-id", **fixtures)]
    (end,) = [e.to_data() for e in events if e.event == "end"]
    (state,) = [e.to_data() for e in events if e.event == "state"]
    return {"reply": end["reply"], "found": state["found"]}


def test_fixtures_do_not_leak_into_a_new_thread_with_the_same_id(tmp_path: Path) -> None:
    spec = tmp_path / "scoped.yaml"
    spec.write_text(SPEC)
    plan = compile_plan(load_spec(spec))
    first = asyncio.run(_turn(plan, tmp_path, script={"answer": ["scripted answer"]},
                              mocks={"lookup": {"source": "mock"}}))
    assert first == {"reply": "scripted answer", "found": {"source": "mock"}}
    second = asyncio.run(_turn(plan, tmp_path))  # a fresh memory checkpointer: a new thread
    assert second["found"] == {"source": "real"}
    assert second["reply"].startswith("[scripted model: no script for node 'answer']")
