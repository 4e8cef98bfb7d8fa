"""Helpers for graph tests: a spec written to tmp_path, compiled through the public path, and run
through `graphs.agent.Agent` turn by turn. (Not `conftest.py`: test modules import these.)"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory.compiler import compile_plan
from factory.language.loader import load_spec
from graphs.agent import Agent, Event
from graphs.plan import Plan

SCHEMA_LINE = "# yaml-language-server: $schema=./spec.schema.json\n"


@dataclass
class TurnResult:
    """What one turn produced, already split by event kind."""

    events: list[Event] = field(default_factory=list)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e.to_data() for e in self.events if e.event == kind]

    @property
    def end(self) -> dict[str, Any]:
        (data,) = self.of("end")
        return data

    @property
    def path(self) -> list[str]:
        return list(self.end["path"])

    @property
    def reply(self) -> str:
        return str(self.end["reply"])

    @property
    def state(self) -> dict[str, Any]:
        (data,) = self.of("state")
        return data

    @property
    def tools(self) -> list[dict[str, Any]]:
        return self.of("tool")

    @property
    def error(self) -> dict[str, Any] | None:
        errors = self.of("error")
        return errors[0] if errors else None

    @property
    def started(self) -> list[str]:
        return [d["node"] for d in self.of("node") if d["phase"] == "start"]


def write_spec(folder: Path, text: str, files: dict[str, str] | None = None, *,
               name: str = "spec.yaml") -> Path:
    """Write a spec (and the modules, prompts or sub-specs beside it) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for rel, content in (files or {}).items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(content))
    path = folder / name
    path.write_text(SCHEMA_LINE + textwrap.dedent(text))
    return path


def plan_of(path: Path) -> Plan:
    return compile_plan(load_spec(path))


async def run_turns(plan: Plan, base_dir: Path, messages: Sequence[str], *,
                    script: dict[str, list[Any]] | None = None, mocks: dict[str, Any] | None = None,
                    checkpointer: str = "memory",
                    thread_id: str | None = None, model: str | None = "scripted") -> list[TurnResult]:
    """Run `messages` as consecutive turns of one fresh thread; fixtures go with the first turn.

    Fixtures are installed per thread id in a process-wide registry, so every run gets a new id
    (a reused id would inherit the previous run's script and mocks).
    """
    thread_id = thread_id or uuid.uuid4().hex
    results: list[TurnResult] = []
    async with Agent.open(plan, checkpointer=checkpointer, base_dir=base_dir, model_override=model) as agent:
        for i, message in enumerate(messages):
            turn = TurnResult()
            kwargs: dict[str, Any] = {"script": script or {}, "mocks": mocks or {}} if i == 0 else {}
            async for event in agent.turn(message, thread_id=thread_id, **kwargs):
                turn.events.append(event)
            results.append(turn)
    return results
