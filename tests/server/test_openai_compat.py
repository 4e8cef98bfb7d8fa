"""`/v1/chat/completions` through the official `openai` SDK against a real uvicorn."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from _server_support import LiveServer

from factory.mockllm import MockLLMServer


def client_for(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def test_non_streaming_completion_and_thread_by_user(echo_server: LiveServer, mock_llm: MockLLMServer) -> None:
    client = client_for(echo_server)
    first = client.chat.completions.create(
        model="echo-bot", messages=[{"role": "user", "content": "one"}], user="oa-thread"
    )
    assert first.choices[0].message.content == "Hello from the mock model, nice to meet you."
    assert first.usage is not None and first.usage.completion_tokens > 0
    client.chat.completions.create(model="echo-bot", messages=[{"role": "user", "content": "two"}], user="oa-thread")
    history = [m["content"] for m in mock_llm.requests[-1].messages if m["role"] != "system"]
    assert history == ["one", "Hello from the mock model, nice to meet you.", "two"]


def test_streaming_completion(echo_server: LiveServer) -> None:
    client = client_for(echo_server)
    stream = client.chat.completions.create(
        model="echo-bot",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(pieces) == "Hello from the mock model, nice to meet you."
    assert finish == "stop" and usage is not None and usage.total_tokens > 0


def test_thread_header_is_returned(echo_server: LiveServer) -> None:
    raw = client_for(echo_server).chat.completions.with_raw_response.create(
        model="echo-bot", messages=[{"role": "user", "content": "hi"}], extra_headers={"X-Thread-Id": "hdr-1"}
    )
    assert raw.headers["x-thread-id"] == "hdr-1"


def test_model_errors_become_openai_errors(echo_server: LiveServer, mock_llm: MockLLMServer) -> None:
    mock_llm.set_script({"queue": [{"fail": {"status": 429, "retry_after_s": 0}}, {"fail": {"status": 500}}]})
    client = client_for(echo_server)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="echo-bot", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.APIError, match="HTTP 500"):
        list(
            client.chat.completions.create(model="echo-bot", messages=[{"role": "user", "content": "hi"}], stream=True)
        )


def test_unknown_model_is_404(echo_server: LiveServer) -> None:
    with pytest.raises(openai.NotFoundError, match="echo-bot"):
        client_for(echo_server).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert [m.id for m in client_for(echo_server).models.list()] == ["echo-bot"]


@pytest.mark.parametrize(
    ("body", "headers", "code"),
    [
        ({"stream": True, "stream_options": 5}, {}, "invalid_request"),
        ({"stream": True, "stream_options": {"include_usage": "lots"}}, {}, "invalid_request"),
        ({"user": "bad id!"}, {}, "bad_thread_id"),
        ({}, {"X-Thread-Id": "x" * 200}, "bad_thread_id"),
        ({"messages": "hi"}, {}, "invalid_request"),
        ({"messages": [{"role": "user", "content": "\ud800"}]}, {}, "invalid_request"),
    ],
)
def test_bad_requests_are_openai_errors_and_leave_the_thread_free(
    echo_server: LiveServer, body: dict[str, Any], headers: dict[str, str], code: str
) -> None:
    request = {"model": "echo-bot", "messages": [{"role": "user", "content": "hi"}], "user": "oa-bad", **body}
    with echo_server.client() as client:
        # ASCII JSON, so a lone surrogate travels as its `\ud800` escape
        response = client.post(
            "/v1/chat/completions",
            content=json.dumps(request),
            headers={"content-type": "application/json", **headers},
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == code and error["type"] == "invalid_request_error" and error["message"]
        again = client.post(
            "/v1/chat/completions",
            json={"model": "echo-bot", "messages": [{"role": "user", "content": "hi"}], "user": "oa-bad"},
        )
    assert again.status_code == 200 and again.json()["thread_id"] == "oa-bad"


def test_the_sdk_shows_a_bad_thread_id_as_a_bad_request(echo_server: LiveServer) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        client_for(echo_server).chat.completions.create(
            model="echo-bot", messages=[{"role": "user", "content": "hi"}], user="someone@example.com"
        )
    assert "thread id" in str(raised.value)
