"""The lean streaming path of the `openai` provider, against a real OpenAI-compatible server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel

from factory.mockllm import MockLLMServer
from graphs.models.openai_chat import LeanChatOpenAI

LOOKUP = {"type": "function", "function": {"name": "lookup", "description": "Look up.",
                                            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}


def _model(server: MockLLMServer) -> LeanChatOpenAI:
    return LeanChatOpenAI(model="mock", base_url=server.base_url, api_key="test", max_retries=0, stream_usage=True)


def test_text_streams_in_pieces_with_usage() -> None:
    async def run(model: LeanChatOpenAI) -> list[object]:
        return [chunk async for chunk in model.astream("hi")]

    with MockLLMServer({"rules": [{"text": "one two three four"}]}) as server:
        chunks = asyncio.run(run(_model(server)))
        body = server.requests[0].body
    texts = [c.text for c in chunks if c.text]  # type: ignore[attr-defined]
    assert len(texts) == 4 and "".join(texts) == "one two three four"
    assert any(c.usage_metadata for c in chunks)  # type: ignore[attr-defined]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_streamed_tool_calls_are_assembled() -> None:
    async def run(model: LeanChatOpenAI) -> object:
        full = None
        async for chunk in model.bind_tools([LOOKUP]).astream("find acme"):
            full = chunk if full is None else full + chunk
        return full

    script = {"rules": [{"tool_calls": [{"name": "lookup", "arguments": {"q": "acme corp"}}]}]}
    with MockLLMServer(script) as server:
        full = asyncio.run(run(_model(server)))
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [("lookup", {"q": "acme corp"})]  # type: ignore[attr-defined]


def test_errors_keep_the_sdk_types() -> None:
    import openai

    async def run(model: LeanChatOpenAI) -> None:
        async for _ in model.astream("hi"):
            pass

    with MockLLMServer({"rules": [{"fail": {"status": 429, "retry_after_s": 0}}]}) as server, \
            pytest.raises(openai.RateLimitError):
        asyncio.run(run(_model(server)))


def test_structured_output_takes_chat_openai_own_path() -> None:
    class Verdict(BaseModel):
        passed: bool

    script = {"rules": [{"text": '{"passed": true}'}]}
    with MockLLMServer(script) as server:
        model = _model(server).with_structured_output(Verdict, method="json_schema")
        verdict = asyncio.run(model.ainvoke("judge"))
        body = server.requests[0].body
    assert verdict == Verdict(passed=True)
    assert body["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize("model", ["gpt-4o-mini", "o3-mini"])
def test_request_bodies_are_chat_openai_own_and_converted_once_per_message(model: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
    from langchain_openai import ChatOpenAI

    from graphs.models import openai_chat

    history = [SystemMessage("Be brief."), HumanMessage("hi", id="h1"), AIMessage("", tool_calls=[
        {"name": "lookup", "args": {"q": "a"}, "id": "c1"}]), ToolMessage("found", tool_call_id="c1"), AIMessage("ok")]
    lean, plain = LeanChatOpenAI(model=model, api_key="k"), ChatOpenAI(model=model, api_key="k")
    assert lean._get_request_payload(history, stop=["\n"], stream=True) == plain._get_request_payload(
        history, stop=["\n"], stream=True)
    converted: list[Any] = []
    real = openai_chat._convert_message_to_dict
    monkeypatch.setattr(openai_chat, "_convert_message_to_dict", lambda m: converted.append(m) or real(m))
    again = lean._get_request_payload([*history, HumanMessage("more")], stream=True)
    assert [m.text for m in converted] == ["more"]  # the rest came from the per-message cache
    assert again["messages"][-1] == {"role": "user", "content": "more"}
    assert again["messages"][0]["role"] == ("developer" if model.startswith("o") else "system")
