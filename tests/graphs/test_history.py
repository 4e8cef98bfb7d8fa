"""History windows (`graphs.history`): what a model call sees of a long thread.

Unit cases on `window()` for the cut rules; then whole turns through `graphs.agent.Agent` against
`factory mock-llm` (a real HTTP server), whose request log shows what the model received.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from _graph_support import plan_of, write_spec
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from factory.mockllm import MockLLMServer
from graphs.agent import Agent
from graphs.events import EndEvent, ErrorEvent
from graphs.history import Summary, needs_summary, window


def _tool_turn(i: int) -> list[Any]:
    call = {"name": "lookup", "args": {"q": i}, "id": f"call{i}", "type": "tool_call"}
    return [HumanMessage(f"q{i}"), AIMessage("", tool_calls=[call]), ToolMessage(f"r{i}", tool_call_id=f"call{i}"),
            AIMessage(f"a{i}")]


def test_last_n_keeps_the_most_recent_messages() -> None:
    messages = [HumanMessage(f"m{i}") for i in range(10)]
    assert [m.text for m in window(messages, {"last": 3})] == ["m7", "m8", "m9"]
    assert window(messages, None) == messages
    assert window(messages, {"last": 50}) == messages


@pytest.mark.parametrize("last", range(1, 12))
def test_a_window_never_starts_with_a_tool_result(last: int) -> None:
    messages = [*_tool_turn(1), *_tool_turn(2), *_tool_turn(3)]
    seen = window(messages, {"last": last})
    assert seen == messages[len(messages) - len(seen):]  # a suffix, never reordered
    assert not seen or not isinstance(seen[0], ToolMessage)
    calls = {c["id"] for m in seen if isinstance(m, AIMessage) for c in m.tool_calls}
    results = {m.tool_call_id for m in seen if isinstance(m, ToolMessage)}
    assert results <= calls  # every result travels with the call that asked for it
    assert len(seen) >= last - 2  # the cut moves at most past one call's results


def test_max_tokens_counts_from_the_newest_message() -> None:
    messages = [HumanMessage("x" * 40) for _ in range(10)]  # 10 + 4 framing = 14 tokens each (estimate)
    assert len(window(messages, {"max_tokens": 14 * 3}, model="no-such-model")) == 3
    assert len(window(messages, {"max_tokens": 14 * 3 - 1}, model="no-such-model")) == 2


def test_summary_threshold_and_what_follows() -> None:
    messages = [HumanMessage(f"m{i}") for i in range(9)]
    history: Any = {"summarize_after": 8, "model": "cheap"}
    assert needs_summary(messages[:8], history, None) is None
    upto = needs_summary(messages, history, None)
    assert upto == 5  # all but the newest 8 // 2
    seen = window(messages, history, summary=Summary(text="they met", covered=upto))
    assert isinstance(seen[0], SystemMessage) and "they met" in seen[0].text
    assert [m.text for m in seen[1:]] == ["m5", "m6", "m7", "m8"]


SPEC = """\
spec: 1
name: long-talk
models:
  main: {provider: openai, model: mock, max_retries: 0}
  cheap: {provider: openai, model: summarizer, max_retries: 0}
default_model: main
nodes:
  answer: {kind: reply, prompt: You are patient.}
edges:
  - {from: start, to: answer}
  - {from: answer, to: end}
"""


def _plan(tmp_path: Path, base_url: str, history: dict[str, Any] | None) -> Any:
    plan = plan_of(write_spec(tmp_path / "spec", SPEC))
    for model in plan["models"].values():
        model["base_url"] = base_url
    if history is not None:
        plan["models"]["main"]["history"] = history
    return plan


async def _talk(plan: Any, folder: Path, turns: int) -> list[Any]:
    thread, last = uuid.uuid4().hex, []
    async with Agent.open(plan, checkpointer="memory", base_dir=folder) as agent:
        for i in range(turns):
            last = [event async for event in agent.turn(f"message number {i} " + "words " * 20, thread_id=thread)]
            if any(isinstance(e, ErrorEvent) for e in last):
                return last
    return last


def test_a_summary_is_made_past_the_threshold_and_sent_with_the_recent_turns(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "mock")
    script = {"rules": [{"when": {"model": "summarizer"}, "text": "SUMMARY: the user sent numbered messages"}],
              "default": {"text": "ok"}}
    with MockLLMServer(script) as mock:
        plan = _plan(tmp_path, mock.base_url, {"summarize_after": 6, "model": "cheap"})
        events = asyncio.run(_talk(plan, tmp_path, 5))
        assert isinstance(events[-1], EndEvent)
        summaries = [r for r in mock.requests if r.body.get("model") == "summarizer"]
        answers = [r for r in mock.requests if r.body.get("model") == "mock"]
    assert summaries, "the thread passed 6 messages: a summary must have been asked for"
    assert "message number 0" in summaries[0].body["messages"][-1]["content"]
    last = answers[-1].body["messages"]
    assert any("SUMMARY: the user sent numbered messages" in str(m["content"]) for m in last)
    users = [m["content"] for m in last if m["role"] == "user"]
    assert users[-1].startswith("message number 4") and not any(u.startswith("message number 0") for u in users)


@pytest.mark.parametrize("history", [None, {"last": 6}])
def test_a_window_keeps_a_long_talk_inside_a_small_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           history: dict[str, Any] | None) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "mock")
    with MockLLMServer({"default": {"text": "ok " * 10}, "context_window": 400}) as mock:
        events = asyncio.run(_talk(_plan(tmp_path, mock.base_url, history), tmp_path, 20))
    if history is None:
        assert isinstance(events[-1], ErrorEvent) and events[-1].code == "context_length", events[-1]
        assert "history" in events[-1].message and not events[-1].retryable
    else:
        assert isinstance(events[-1], EndEvent), events[-1]
