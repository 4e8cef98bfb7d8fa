"""The stream modes as an agent with a tool sends them (`tests/agent_server/specs/helper.yaml`: an
`agent` node whose model, the fake model server, calls a `returns` tool and then answers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _serve import Served, factory_serve

from factory.mockllm import MockLLMServer

HELPER_SPEC = Path(__file__).parent / "specs" / "helper.yaml"
ANSWER = "We are open 08:00-18:00 CET on weekdays."
HOURS = {"weekdays": "08:00-18:00 CET", "weekend": "closed"}
USER = {"messages": [{"role": "user", "content": "When are you open?"}]}


@pytest.fixture(scope="module")
def helper_server(mock_llm: MockLLMServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = {"OPENAI_BASE_URL": mock_llm.base_url, "OPENAI_API_KEY": "sk-test"}
    with factory_serve(HELPER_SPEC, tmp_path_factory.mktemp("helper"), env=env) as served:
        yield served


def _stream(served: Served, model: MockLLMServer, modes: list[str]) -> list[Any]:
    model.set_script({"queue": [{"tool_calls": [{"name": "support_hours", "arguments": {}}]}, {"text": ANSWER}]})
    sdk = served.sdk()
    tid = sdk.threads.create()["thread_id"]
    return list(sdk.runs.stream(tid, "helper", input=USER, stream_mode=modes))


def test_tools_mode_reports_each_call_with_its_input_and_output(helper_server: Served, model: MockLLMServer) -> None:
    parts = _stream(helper_server, model, ["tools"])
    assert [p.event for p in parts] == ["metadata", "tools", "tools"]
    start, end = (p.data for p in parts[1:])
    assert start == {"event": "on_tool_start", "toolCallId": None, "name": "support_hours", "input": {}}
    assert end == {"event": "on_tool_end", "toolCallId": None, "name": "support_hours", "output": HOURS}


def test_custom_mode_carries_the_agents_own_events(helper_server: Served, model: MockLLMServer) -> None:
    parts = _stream(helper_server, model, ["custom"])
    custom = [p.data for p in parts if p.event == "custom"]
    assert custom[0] == {"event": "node", "node": "help", "kind": "agent", "phase": "start"}
    assert {"event": "tool", "name": "support_hours", "args": {}, "result": HOURS, "node": "help"} in custom
    assert "".join(c["text"] for c in custom if c["event"] == "token") == ANSWER
    assert custom[-1] == {"event": "node", "node": "help", "kind": "agent", "phase": "end"}


def test_updates_mode_has_what_each_node_wrote(helper_server: Served, model: MockLLMServer) -> None:
    parts = _stream(helper_server, model, ["updates", "messages-tuple"])
    [update] = [p.data for p in parts if p.event == "updates"]
    written = update["help"]["messages"]
    assert [m["type"] for m in written] == ["ai", "tool", "ai"]
    assert written[0]["tool_calls"][0]["name"] == "support_hours" and written[-1]["content"] == ANSWER
    chunks = [p.data[0] for p in parts if p.event == "messages"]
    assert "".join(c["content"] for c in chunks) == ANSWER
    assert {c["id"] for c in chunks} == {written[-1]["id"]}  # the chunks are the answer the node wrote
    assert parts[-1].event == "updates"  # nothing after the last step
