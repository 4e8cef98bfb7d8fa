"""A real model's answer that does not fit the node ends the turn with a clear, retryable
`bad_model_output` error (never a traceback, never `internal_error`); the fake model speaks the real
OpenAI wire (`factory mock-llm`), so the answers are exactly what a real server can send."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from _graph_support import plan_of, run_turns, write_spec

from factory import mockllm

SPEC = """
spec: 1
name: bad-output
models:
  main: {{provider: openai, model: mock-model, base_url: "{base_url}", max_retries: 0}}
default_model: main
state:
  company: {{type: string}}
  topic: {{type: string}}
nodes:
  {node}
edges:
  - {{from: start, to: first}}
  - {{from: first, to: end}}
"""

NODES = {
    "classify": "first: {kind: classify, prompt: Pick., labels: {billing: money, other: rest}, into: topic}",
    "extract": "first: {kind: extract, prompt: Record., into: [company]}",
    "reply": "first: {kind: reply, prompt: Answer.}",
    "agent": "first: {kind: agent, prompt: Answer., tools: []}",
}
CASES = [
    ("classify", {"tool_calls": [{"name": "choose_label", "arguments": {"label": "refunds"}}]},
     r"classify node 'first': the model chose 'refunds', not one of \['billing', 'other'\]"),
    ("classify", {"text": "I think it is about money."}, r"did not call choose_label \(it said 'I think"),
    ("extract", {"text": "Acme"}, r"did not call record_slots with JSON arguments \(it said 'Acme'\)"),
    ("reply", {"text": ""}, r"reply node 'first': the model's answer was empty"),
    ("agent", {"text": "   "}, r"agent node 'first': the model's answer was empty"),
]


@pytest.mark.parametrize(("kind", "answer", "message"), CASES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(CASES)])
def test_an_answer_that_does_not_fit_is_a_retryable_bad_model_output(tmp_path: Path, kind: str,
                                                                      answer: dict[str, Any], message: str) -> None:
    with mockllm.MockLLMServer({"default": answer}) as server:
        spec = write_spec(tmp_path, SPEC.format(base_url=server.base_url, node=NODES[kind]))
        (turn,) = asyncio.run(run_turns(plan_of(spec), tmp_path, ["Where is my invoice?"], model=None))
    assert turn.error is not None, turn.events
    assert turn.error["code"] == "bad_model_output" and turn.error["retryable"] is True, turn.error
    assert re.search(message, turn.error["message"]), turn.error["message"]
    assert "Traceback" not in turn.error["message"]
