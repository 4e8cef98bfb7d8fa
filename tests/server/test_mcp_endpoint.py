"""`/mcp`: the served agent as an MCP server, called with the official `mcp` client
(`streamablehttp_client` + `ClientSession`) against a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
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
