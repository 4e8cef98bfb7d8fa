"""`POST /chat/stream` with httpx + httpx-sse against a real uvicorn; the model is mock-llm at the wire."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from _server_support import LiveServer, echo_plan, stream
from httpx_sse import connect_sse

from factory.mockllm import MockLLMServer


def test_one_turn_streams_the_vocabulary_in_order(echo_server: LiveServer) -> None:
    with echo_server.client() as client:
        events = stream(client, message="Hi!")
    names = [name for name, _ in events]
    assert names[0] == "metadata" and names[-2:] == ["state", "end"]
    assert names.count("token") >= 5
    tokens = [data for name, data in events if name == "token"]
    assert all(set(t) == {"text", "node"} and t["node"] == "answer" for t in tokens)
    end = events[-1][1]
    assert end["reply"] == "".join(t["text"] for t in tokens) == "Hello from the mock model, nice to meet you."
    assert end["path"] == ["count_turn", "answer"] and end["first_token_ms"] > 0


def test_a_thread_continues_and_persists(echo_server: LiveServer, mock_llm: MockLLMServer) -> None:
    with echo_server.client() as client:
        thread = stream(client, message="first")[0][1]["thread_id"]
        events = stream(client, message="second", thread_id=thread)
    assert events[0][1]["thread_id"] == thread
    assert dict(events)["state"] == {"turns": 2}
    sent = [(m["role"], m["content"]) for m in mock_llm.requests[-1].messages if m["role"] != "system"]
    assert sent == [
        ("user", "first"),
        ("assistant", "Hello from the mock model, nice to meet you."),
        ("user", "second"),
    ]


FAULTS = {
    "http_500": ({"status": 500}, "model_error", True),
    "http_429": ({"status": 429, "retry_after_s": 0}, "model_rate_limited", True),
    "timeout": ({"hang": True}, "model_timeout", True),
    "cut_stream": ({"cut_after_tokens": 3}, "model_unreachable", True),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_model_fault_is_an_error_event_and_the_thread_is_restored(
    fault: str, mock_llm: MockLLMServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    plan = echo_plan(mock_llm.base_url)
    plan["models"]["main"]["timeout_s"] = 1.0
    spec, code, retryable = FAULTS[fault]
    with LiveServer(plan, base_dir=tmp_path) as server, server.client() as client:
        thread = stream(client, message="one")[0][1]["thread_id"]
        mock_llm.set_script(
            {
                "queue": [{"text": "one two three four five six", "fail": spec}],
                "default": {"text": "Recovered fine."},
            }
        )
        failed = stream(client, message="two", thread_id=thread)
        assert failed[-1] == (
            "error",
            {"code": code, "message": failed[-1][1]["message"], "retryable": retryable},
        )
        assert "end" not in [name for name, _ in failed]
        again = stream(client, message="three", thread_id=thread)
        assert again[-1][1]["reply"] == "Recovered fine."
        assert dict(again)["state"] == {"turns": 2}  # the failed turn counted nothing
        history = [(m["role"], m["content"]) for m in mock_llm.requests[-1].messages if m["role"] != "system"]
        assert history == [
            ("user", "one"),
            ("assistant", "Hello from the mock model, nice to meet you."),
            ("user", "three"),
        ]  # no "two", no half-written reply


def test_a_disconnect_cancels_the_model_call_and_frees_the_thread(
    echo_server: LiveServer, mock_llm: MockLLMServer
) -> None:
    with echo_server.client() as client:
        thread = stream(client, message="one")[0][1]["thread_id"]
        mock_llm.set_script(
            {
                "queue": [{"tokens": 200, "text": "slow ", "token_delay_ms": 50}],
                "default": {"text": "Fast again."},
            }
        )
        with connect_sse(client, "POST", "/chat/stream", json={"message": "two", "thread_id": thread}) as source:
            for event in source.iter_sse():
                if event.event == "token":
                    break  # leave mid-stream: the context manager closes the connection
        gone = mock_llm.wait_for_event("disconnected", timeout=5)
        assert gone.request_id == mock_llm.requests[-1].id
        deadline = time.monotonic() + 5
        while echo_server.agent.is_busy(thread) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not echo_server.agent.is_busy(thread)
        again = stream(client, message="three", thread_id=thread)
    assert again[-1][1]["reply"] == "Fast again."
    assert dict(again)["state"] == {"turns": 2}


def test_two_turns_on_one_thread_at_once_the_second_is_refused(
    echo_server: LiveServer, mock_llm: MockLLMServer
) -> None:
    mock_llm.set_script({"default": {"text": "a b c d e f", "token_delay_ms": 100}})
    results: list[int] = []
    with echo_server.client() as client:
        first = threading.Thread(target=lambda: results.append(len(stream(client, message="x", thread_id="t-409"))))
        first.start()
        deadline = time.monotonic() + 5
        while not echo_server.agent.is_busy("t-409") and time.monotonic() < deadline:
            time.sleep(0.01)
        second = client.post("/chat/stream", json={"message": "y", "thread_id": "t-409"})
        first.join()
    assert second.status_code == 409 and "already running" in second.json()["detail"]
    assert results and results[0] > 5


@pytest.mark.parametrize(
    ("content", "status", "needle"),
    [
        (b"{not json", 422, "json"),
        (json.dumps({"message": ""}).encode(), 422, "at least 1 character"),
        (json.dumps({"message": "hi", "extra": 1}).encode(), 422, "extra"),
        (json.dumps({"message": "x" * 9000}).encode(), 422, "limit is 8000"),
        (json.dumps({"message": "x" * 70000}).encode(), 413, ""),
        (json.dumps({"message": "hi", "script": {"answer": ["x"]}}).encode(), 403, "test-mode"),
        (json.dumps({"message": "hi", "thread_id": "bad id!"}).encode(), 422, "thread id is 1 to 128"),
        (b'{"message": "\\ud800"}', 422, "unicode"),  # a lone surrogate: not UTF-8, and the 422 is encodable
    ],
)
def test_bad_requests_get_clear_errors(echo_server: LiveServer, content: bytes, status: int, needle: str) -> None:
    with echo_server.client() as client:
        response = client.post("/chat/stream", content=content, headers={"content-type": "application/json"})
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json"  # 413 included
        assert needle.lower() in response.text.lower()
        assert client.get("/health").status_code == 200


def test_test_mode_accepts_a_script(sales_server: LiveServer) -> None:
    script = {
        "understand": [{"company": "Acme", "pain_points": ["churn"]}],
        "ask_budget": ["What budget have you set aside?"],
    }
    with sales_server.client() as client:
        events = stream(client, message="Acme, churn", script=script, mocks={"company_lookup": {"tier": "enterprise"}})
    assert events[-1][1]["reply"] == "What budget have you set aside?"
    assert dict(events)["state"]["company_info"] == {"tier": "enterprise"}
    assert (
        "tool",
        {
            "name": "company_lookup",
            "args": {"company": "Acme"},
            "result": {"tier": "enterprise"},
            "node": "lookup",
        },
    ) in events
