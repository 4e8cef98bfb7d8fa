"""The scripted model with no script: every node kind falls back deterministically, and a served spec
answers every turn with `end` (never `error`). The example specs cover the router (`classify`), the form
(`interrupt`, `subgraph`, `python`) and the tools (`extract`, `tool`, `agent`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from served import wait_ready

from factory.runners import free_port
from graphs.events import EndEvent, ErrorEvent, Event, parse_event
from graphs.models.scripted import fallback_arguments

ROOT = Path(__file__).resolve().parents[2]
TURNS = ["Hello!", "I'm Ana from Acme; it's urgent.", "What's next?"]



@pytest.fixture
def served(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """`served("sales_discovery.yaml")` -> the base URL of `factory serve` on it with `--model scripted`."""
    started: list[subprocess.Popen[bytes]] = []

    def serve(spec: str) -> str:
        port = free_port()
        log = (tmp_path / f"{spec}.log").open("wb")
        env = dict(os.environ, PYTHONPATH=str(ROOT), FACTORY_DATA_DIR=str(tmp_path / "data"))
        env.pop("FACTORY_MODEL", None)
        command = [sys.executable, "-c", "import sys; from factory.cli import main; sys.exit(main())", "serve",
                   str(ROOT / "specs" / spec), "--port", str(port), "--checkpointer", "memory", "--model", "scripted"]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process, what=f"factory serve {spec}", log=tmp_path / f"{spec}.log")
        return url

    yield serve
    for process in started:
        process.terminate()
        process.wait(10)


def _turn(url: str, message: str, thread: str) -> list[Event]:
    events: list[Event] = []
    with httpx.stream("POST", f"{url}/chat/stream", json={"message": message, "thread_id": thread},
                      timeout=60) as answer:
        assert answer.status_code == 200, answer.read()
        name = None
        for line in answer.iter_lines():
            if line.startswith("event:"):
                name = line.removeprefix("event:").strip()
            elif line.startswith("data:") and name:
                events.append(parse_event(name, json.loads(line.removeprefix("data:").strip())))
                name = None
    return events


@pytest.mark.parametrize("spec", ["support_triage.yaml", "onboarding.yaml", "sales_discovery.yaml"])
def test_a_served_scripted_spec_with_no_script_ends_every_turn(served: Callable[[str], str], spec: str) -> None:
    url = served(spec)
    for message in TURNS:
        events = _turn(url, message, thread=f"fallback-{spec.split('.')[0].replace('_', '-')}")
        errors = [e for e in events if isinstance(e, ErrorEvent)]
        assert not errors, errors
        assert isinstance(events[-1], EndEvent), events


def test_a_router_falls_back_to_its_first_label(served: Callable[[str], str]) -> None:
    url = served("support_triage.yaml")
    events = _turn(url, "Hello!", thread="fallback-router")
    end = events[-1]
    assert isinstance(end, EndEvent)
    assert "triage" in end.path
    assert "[scripted model: no script for node" in end.reply  # the fallback text names the node to script


@pytest.mark.parametrize(("schema", "expected"), [
    ({"type": "object", "properties": {"label": {"type": "string", "enum": ["billing", "other"]}},
      "required": ["label"]}, {"label": "billing"}),
    ({"type": "object", "properties": {"company": {"type": "string"}, "seats": {"type": "integer"}}}, {}),
    ({"type": "object", "properties": {"passed": {"type": "boolean"}, "reason": {"type": "string"},
                                       "tags": {"type": "array"}}, "required": ["passed", "reason", "tags"]},
     {"passed": False, "reason": "", "tags": []}),
    (None, {}),
])
def test_fallback_arguments_are_the_smallest_that_fit(schema: dict[str, object] | None,
                                                      expected: dict[str, object]) -> None:
    assert fallback_arguments(schema) == expected  # type: ignore[arg-type]
