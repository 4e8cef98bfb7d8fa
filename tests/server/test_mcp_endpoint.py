"""`/mcp`: the served agent as an MCP server, called with the official `mcp` client
(`streamablehttp_client` + `ClientSession`) against a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from _server_support import LiveServer, echo_plan
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client

from factory.mockllm import MockLLMServer


async def _session_call(url: str, *calls: tuple[str, dict[str, Any]], headers: dict[str, str] | None = None
                        ) -> tuple[list[types.Tool], list[types.CallToolResult]]:
    async with httpx.AsyncClient(headers=headers, timeout=30) as http, \
            streamable_http_client(f"{url}/mcp", http_client=http) as (read, write, _), \
            ClientSession(read, write) as session:
        await session.initialize()
        tools = (await session.list_tools()).tools
        results = [await session.call_tool(name, args) for name, args in calls]
    return tools, results


def _call(url: str, *calls: tuple[str, dict[str, Any]], **kwargs: Any) -> list[types.CallToolResult]:
    return asyncio.run(_session_call(url, *calls, **kwargs))[1]


def _text(result: types.CallToolResult) -> str:
    return "".join(part.text for part in result.content if isinstance(part, types.TextContent))


def test_the_agent_is_one_tool_with_a_message_and_an_optional_thread(onboarding_server: LiveServer) -> None:
    tools, _ = asyncio.run(_session_call(onboarding_server.url))
    (tool,) = tools
    assert tool.name == "onboarding"
    assert "Flowly" in (tool.description or "")
    assert tool.inputSchema["required"] == ["message"]
    assert set(tool.inputSchema["properties"]) == {"message", "thread_id"}
    assert tool.outputSchema is not None and "thread_id" in tool.outputSchema["required"]


def test_a_conversation_goes_on_in_the_thread_the_first_answer_names(onboarding_server: LiveServer) -> None:
    async def talk() -> list[types.CallToolResult]:
        async with streamable_http_client(f"{onboarding_server.url}/mcp") as (read, write, _), \
                ClientSession(read, write) as session:
            await session.initialize()
            first = await session.call_tool("onboarding", {"message": "Hi, I'd like to sign up."})
            assert first.structuredContent is not None
            thread = first.structuredContent["thread_id"]
            second = await session.call_tool("onboarding", {"message": "Ana Lima", "thread_id": thread})
            return [first, second]

    first, second = asyncio.run(talk())
    assert not first.isError and not second.isError
    assert "full name" in _text(first)
    assert first.structuredContent is not None
    assert first.structuredContent == {"reply": _text(first), "thread_id": first.structuredContent["thread_id"],
                                       "interrupted": True, "question": _text(first).strip()}
    assert "Nice to meet you, Ana Lima" in _text(second)
    assert second.structuredContent is not None
    assert second.structuredContent["thread_id"] == first.structuredContent["thread_id"]
    assert onboarding_server.state(first.structuredContent["thread_id"])["full_name"] == "Ana Lima"


def test_the_reply_streams_as_progress_notifications_when_asked(onboarding_server: LiveServer) -> None:
    pieces: list[tuple[float, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        pieces.append((done, message))

    async def talk() -> types.CallToolResult:
        async with streamable_http_client(f"{onboarding_server.url}/mcp") as (read, write, _), \
                ClientSession(read, write) as session:
            await session.initialize()
            return await session.call_tool("onboarding", {"message": "hello"}, progress_callback=progress)

    result = asyncio.run(talk())
    assert len(pieces) > 2
    assert [done for done, _ in pieces] == list(range(1, len(pieces) + 1))
    assert "".join(message or "" for _, message in pieces) == _text(result)


def test_a_given_thread_id_is_used_for_a_new_thread(onboarding_server: LiveServer) -> None:
    thread = f"mcp-{uuid.uuid4().hex[:8]}"
    (result,) = _call(onboarding_server.url, ("onboarding", {"message": "hello", "thread_id": thread}))
    assert result.structuredContent is not None and result.structuredContent["thread_id"] == thread
    assert onboarding_server.call(onboarding_server.agent.messages(thread))


@pytest.mark.parametrize(("args", "code", "fix"), [
    ({"message": "hi", "thread_id": "has spaces/and slashes"}, "bad_thread_id", "letters, digits"),
    ({"message": ""}, "invalid_request", "at least 1 character"),
    ({"message": "x" * 20_001}, "message_too_long", "serve.max_message_chars"),
    ({}, "invalid_request", "message: a value: the field is required"),
    ({"message": "hi", "colour": "red"}, "invalid_request", "colour: no such field"),
    ({"message": 42}, "invalid_request", "message: Input should be a valid string"),
])
def test_bad_arguments_are_tool_errors_with_code_and_fix(onboarding_server: LiveServer, args: dict[str, Any],
                                                         code: str, fix: str) -> None:
    (result,) = _call(onboarding_server.url, ("onboarding", args))
    assert result.isError
    assert _text(result).startswith(f"{code}: "), _text(result)
    assert fix in _text(result)
    assert "Traceback" not in _text(result)


def test_an_unknown_tool_is_a_tool_error(onboarding_server: LiveServer) -> None:
    (result,) = _call(onboarding_server.url, ("weather", {"message": "hi"}))
    assert result.isError and _text(result).startswith("not_found: unknown tool 'weather'")
    assert "'onboarding'" in _text(result)


def test_a_busy_thread_is_a_thread_busy_tool_error(onboarding_server: LiveServer) -> None:
    thread = uuid.uuid4().hex
    held = onboarding_server.call(onboarding_server.agent.open_turn("hi", thread_id=thread))
    try:
        (result,) = _call(onboarding_server.url, ("onboarding", {"message": "hi", "thread_id": thread}))
    finally:
        onboarding_server.call(held.aclose())
    assert result.isError
    assert _text(result).startswith(f"thread_busy: a turn is already running on thread {thread!r}")
    assert "Retrying may help." in _text(result)


def test_a_model_failure_is_a_tool_error_and_the_thread_is_unchanged(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("FACTORY_CHECKPOINTER", raising=False)
    script = {"default": {"fail": {"status": 400, "message": "the model refuses this prompt"}}}
    with MockLLMServer(script) as mock, LiveServer(echo_plan(mock.base_url), base_dir=tmp_path) as server:
        thread = uuid.uuid4().hex
        (result,) = _call(server.url, ("echo-bot", {"message": "hi", "thread_id": thread}))
        assert result.isError
        assert _text(result).startswith("model_error: "), _text(result)
        assert f"thread_id: {thread} (left as it was" in _text(result)
        assert "Traceback" not in _text(result)
        assert server.call(server.agent.messages(thread)) == []


def test_mcp_needs_the_api_key_when_the_server_has_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("MCP_TEST_KEYS", "k1")
    monkeypatch.delenv("FACTORY_CHECKPOINTER", raising=False)
    with MockLLMServer({"default": {"text": "Hello over MCP."}}) as mock, \
            LiveServer(echo_plan(mock.base_url, auth={"api_keys_env": "MCP_TEST_KEYS"}), base_dir=tmp_path) as server:
        (result,) = _call(server.url, ("echo-bot", {"message": "hi"}), headers={"Authorization": "Bearer k1"})
        assert _text(result) == "Hello over MCP."
        with pytest.raises(ExceptionGroup) as refused:  # the client's task group wraps the HTTP error
            _call(server.url, ("echo-bot", {"message": "hi"}))
        assert refused.group_contains(httpx.HTTPStatusError, match="401 Unauthorized")


WEATHER_SPEC = Path(__file__).resolve().parents[2] / "specs" / "weather_agent.yaml"


def _factory_serve(spec: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FACTORY_DATA_DIR": str(tmp_path), "COLUMNS": "300"}
    for name in ("FACTORY_CHECKPOINTER", "FACTORY_MODEL", "FACTORY_TEST_MODE"):
        env.pop(name, None)
    log = (tmp_path / "serve.log").open("w")
    return subprocess.Popen([sys.executable, "-m", "factory", "serve", str(spec), "--port", "0", "--model", "scripted",
                             "--checkpointer", "memory"], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)


def _ready_url(proc: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        found = re.search(r"on (http://127\.0\.0\.1:\d+)", log.read_text())
        try:
            if found and httpx.get(f"{found[1]}/ready", timeout=5).status_code == 200:
                return found[1]
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(log.read_text())


def test_factory_serve_of_an_agent_with_mcp_tools_answers_over_mcp(tmp_path: Path) -> None:
    """The example agent's own tools come from an MCP server (stdio); it is itself served over MCP."""
    proc = _factory_serve(WEATHER_SPEC, tmp_path)
    try:
        url = _ready_url(proc, tmp_path / "serve.log")
        tools, (result,) = asyncio.run(_session_call(url, ("weather-agent", {"message": "Weather in Oslo?"})))
    finally:
        proc.terminate()
        proc.wait(15)
    assert [tool.name for tool in tools] == ["weather-agent"]
    assert not result.isError and result.structuredContent is not None
    assert "Weather in Oslo?" in result.structuredContent["reply"]  # the scripted model echoes the message
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def test_factory_serve_stops_clearly_when_an_mcp_server_cannot_start(tmp_path: Path) -> None:
    spec = tmp_path / "weather_agent.yaml"
    spec.write_text(WEATHER_SPEC.read_text().replace("args: [weather_mcp_server.py]", "args: [missing_server.py]"))
    proc = _factory_serve(spec, tmp_path)
    assert proc.wait(60) == 2
    log = (tmp_path / "serve.log").read_text()
    assert "the agent 'weather-agent' cannot start" in log and "MCP server 'weather' failed to start" in log, log
    assert "Traceback" not in log
