"""Helpers of the `factory test` runner tests: a tiny offline spec and the repository's example specs."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"

MINI_SPEC = """\
spec: 1
name: mini
models:
  main: {provider: scripted}
default_model: main
state:
  turns: {type: integer, default: 0}
  topic: {type: string}
  info: {type: object}
tools:
  lookup:
    description: Look the account up.
    returns: {tier: gold, tags: [a, b]}
nodes:
  count: {kind: set, values: {turns: "state.turns + 1"}}
  route:
    kind: classify
    prompt: Pick what the user wants.
    labels: {help: needs help, chat: small talk}
    into: topic
  fetch: {kind: tool, tool: lookup, into: info}
  help: {kind: reply, prompt: Help the user.}
  chat: {kind: reply, prompt: Chat with the user.}
  escalate: {kind: reply, prompt: Hand over to a human.}
edges:
  - {from: start, to: count}
  - {from: count, to: route}
  - {from: route, to: escalate, when: "state.turns > 100"}
  - {from: route, to: fetch, when: 'state.topic == "help"'}
  - {from: route, to: chat}
  - {from: fetch, to: help}
  - {from: help, to: end}
  - {from: chat, to: end}
  - {from: escalate, to: end}
tests:
TESTS
"""

MINI_TESTS = """\
  - name: help is looked up
    tags: [help]
    script:
      route: [help]
      help: ["Your gold account is fine."]
    turns:
      - user: Help me
        expect:
          - visited: [count, fetch, help]
          - tool_called: {name: lookup}
          - state: {topic: help, info: {tier: gold}}
          - contains: gold
  - name: small talk
    script:
      route: [chat]
      chat: ["Nice weather!"]
    turns:
      - user: Hi
        expect:
          - not_visited: [fetch]
          - judge: The reply is friendly.
"""


def write_mini(folder: Path, tests: str = MINI_TESTS, *, name: str = "mini.yaml") -> Path:
    path = folder / name
    path.write_text(MINI_SPEC.replace("TESTS\n", tests), encoding="utf-8")
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment for a `factory` subprocess; `PYTHONPATH` is kept, so that a worktree's code is
    the code under test."""
    env = {"PATH": "/usr/bin:/bin", **extra}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env
