"""LangServe routes through `RemoteRunnable`: the graph at `serve.path`, the chat runnable at `.../chat`."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from _server_support import LiveServer, error_of, stream
from langserve import RemoteRunnable

from factory.mockllm import MockLLMServer

SCRIPT = {
    "understand": [{"company": "Acme", "pain_points": ["churn"]}],
    "ask_budget": ["What budget do you have?"],
}


def test_graph_invoke_stream_and_stream_events(echo_server: LiveServer) -> None:
    asyncio.run(_graph_routes(echo_server))


async def _graph_routes(echo_server: LiveServer) -> None:
    graph = RemoteRunnable(f"{echo_server.url}/echo-bot")
    config: Any = {"configurable": {"thread_id": "ls-1"}}
    out = await graph.ainvoke({"messages": [{"role": "user", "content": "hi"}]}, config)
    assert out["turns"] == 1 and out["messages"][-1].content == "Hello from the mock model, nice to meet you."
    chunks = [c async for c in graph.astream({"messages": [{"role": "user", "content": "again"}]}, config)]
    assert chunks
    tokens = [
        e["data"]["chunk"].content
        async for e in graph.astream_events({"messages": [{"role": "user", "content": "third"}]}, config, version="v2")
        if e["event"] == "on_chat_model_stream"
    ]
    assert "".join(tokens) == "Hello from the mock model, nice to meet you."
    assert echo_server.state("ls-1") == {"turns": 3}


def test_chat_runnable_streams_text_and_keeps_the_thread(echo_server: LiveServer) -> None:
    asyncio.run(_chat_routes(echo_server))


async def _chat_routes(echo_server: LiveServer) -> None:
    chat = RemoteRunnable(f"{echo_server.url}/echo-bot/chat")
    config: Any = {"configurable": {"thread_id": "ls-chat"}}
    pieces = [p async for p in chat.astream({"messages": [], "input": "hi"}, config)]
    assert "".join(pieces) == "Hello from the mock model, nice to meet you." and len(pieces) > 3
    assert await chat.ainvoke({"messages": [], "input": "again"}, config) == "".join(pieces)
    assert echo_server.state("ls-chat") == {"turns": 2}


def test_playground_threads_follow_the_first_ai_message_run_id(echo_server: LiveServer) -> None:
    """What the chat playground does: /stream_log with the history, each AI message carrying `runId`."""
    with echo_server.client() as client:

        def turn(messages: list[dict[str, Any]], text: str) -> tuple[str, str]:
            response = client.post(
                "/echo-bot/chat/stream_log",
                json={"input": {"messages": messages, "input": text}, "config": {}},
            )
            assert response.status_code == 200
            run_id, output = None, ""
            for line in response.text.splitlines():
                if line.startswith("data: "):
                    for op in json.loads(line[6:]).get("ops", []):
                        if op["path"] == "" and op["op"] == "replace":
                            run_id = op["value"]["id"]
                        if op["path"] == "/final_output":
                            output = op["value"]
            assert run_id
            return str(run_id), output

        run1, reply1 = turn([], "hello")
        history = [{"type": "human", "content": "hello"}, {"type": "ai", "content": reply1, "runId": run1}]
        run2, reply2 = turn(history, "and again")
    assert reply1 == reply2 == "Hello from the mock model, nice to meet you."
    assert run1 != run2
    uuid.UUID(run1)
    assert echo_server.state(f"playground-{run1}") == {"turns": 2}  # one thread for the conversation


def test_playground_thread_id(echo_server: LiveServer) -> None:
    from graphs.server.langserve import playground_thread_id

    assert playground_thread_id([], "r1") == "playground-r1"
    history = [{"type": "human", "content": "x"}, {"type": "ai", "content": "y", "runId": "r0"}]
    assert playground_thread_id(history, "r9") == "playground-r0"


def _msg(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


@pytest.mark.parametrize(
    "payload",
    [
        {"messages": [123]},
        {"messages": [{"role": "robot", "content": "hi"}]},
        {"messages": [{"role": "user", "content": 5}]},
        {"messages": [_msg("hi")], "turns": "abc"},
        {"messages": [_msg("hi")], "unknown_slot": 1},
        {"messages": [_msg("x" * 9000)]},
    ],
)
def test_graph_input_is_validated_and_a_bad_request_leaves_the_thread_usable(
    echo_server: LiveServer, payload: dict[str, Any]
) -> None:
    with echo_server.client() as client:
        thread = stream(client, message="one")[0][1]["thread_id"]
        config = {"configurable": {"thread_id": thread}}
        bad = client.post("/echo-bot/invoke", json={"input": payload, "config": config})
        assert bad.status_code == 422, bad.text
        events = stream(client, message="two", thread_id=thread)
    assert events[-1][0] == "end" and dict(events)["state"] == {"turns": 2}


def test_slot_types_and_enums_come_from_the_spec(sales_server: LiveServer) -> None:
    with sales_server.client() as client:
        schema = client.get("/sales-discovery/input_schema").json()
        for slot, value in [("authority", "boss"), ("meeting_booked", "yes"), ("pain_points", [1]), ("turns", "3")]:
            response = client.post("/sales-discovery/invoke", json={"input": {slot: value}})
            assert response.status_code == 422, (slot, response.text)
    assert "decision_maker" in json.dumps(schema) and "InputMessage" in json.dumps(schema)


def test_a_failed_graph_run_restores_the_thread(echo_server: LiveServer, mock_llm: MockLLMServer) -> None:
    config = {"configurable": {"thread_id": "ls-restore"}}
    with echo_server.client() as client:
        ok = client.post("/echo-bot/invoke", json={"input": {"messages": [_msg("one")]}, "config": config})
        assert ok.status_code == 200
        mock_llm.set_script({"queue": [{"fail": {"status": 500}}], "default": {"text": "Recovered."}})
        failed = client.post("/echo-bot/invoke", json={"input": {"messages": [_msg("two")]}, "config": config})
        assert failed.status_code == 502 and error_of(failed) == ("model_error", "the model server answered HTTP 500")
        assert echo_server.state("ls-restore") == {"turns": 1}  # count_turn's checkpoint was undone
        events = stream(client, message="three", thread_id="ls-restore")
    assert dict(events)["state"] == {"turns": 2} and events[-1][1]["reply"] == "Recovered."
    history = [(m["role"], m["content"]) for m in mock_llm.requests[-1].messages if m["role"] != "system"]
    assert [text for role, text in history if role == "user"] == ["one", "three"]  # no "two"


def _slow(mock_llm: MockLLMServer) -> None:
    mock_llm.set_script({"default": {"text": "a b c d e f", "token_delay_ms": 100}})


def _while_busy(server: LiveServer, thread: str, start: Callable[[], Any], then: Callable[[], Any]) -> Any:
    worker = threading.Thread(target=start)
    worker.start()
    deadline = time.monotonic() + 5
    while not server.agent.is_busy(thread) and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        return then()
    finally:
        worker.join()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/echo-bot/invoke", {"input": {"messages": [_msg("y")]}}),
        ("/echo-bot/chat/invoke", {"input": {"messages": [], "input": "y"}}),
        ("/echo-bot/stream", {"input": {"messages": [_msg("y")]}}),
        ("/echo-bot/chat/stream_log", {"input": {"messages": [], "input": "y"}}),
    ],
)
def test_a_busy_thread_is_409_on_langserve_routes(
    echo_server: LiveServer, mock_llm: MockLLMServer, path: str, body: dict[str, Any]
) -> None:
    _slow(mock_llm)
    config = {"configurable": {"thread_id": "ls-busy"}}
    with echo_server.client() as client:
        second = _while_busy(
            echo_server,
            "ls-busy",
            lambda: stream(client, message="x", thread_id="ls-busy"),
            lambda: client.post(path, json={**body, "config": config}),
        )
        assert second.status_code == 409, second.text
        assert "already running" in second.json()["detail"]
        again = client.post("/echo-bot/invoke", json={"input": {"messages": [_msg("z")]}, "config": config})
    assert again.status_code == 200 and again.json()["output"]["turns"] == 2


def test_invoke_while_an_invoke_runs_is_409(echo_server: LiveServer, mock_llm: MockLLMServer) -> None:
    _slow(mock_llm)
    config = {"configurable": {"thread_id": "ls-two"}}
    with echo_server.client() as client:
        body = {"input": {"messages": [_msg("x")]}, "config": config}
        statuses = []
        second = _while_busy(
            echo_server,
            "ls-two",
            lambda: statuses.append(client.post("/echo-bot/invoke", json=body).status_code),
            lambda: client.post("/echo-bot/invoke", json=body),
        )
    assert statuses == [200] and second.status_code == 409


def test_a_batch_on_one_thread_runs_its_inputs_one_at_a_time(echo_server: LiveServer) -> None:
    config = {"configurable": {"thread_id": "ls-batch"}}
    with echo_server.client() as client:
        graph = client.post(
            "/echo-bot/batch", json={"inputs": [{"messages": [_msg("a")]}, {"messages": [_msg("b")]}], "config": config}
        )
        chat = client.post(
            "/echo-bot/chat/batch",
            json={"inputs": [{"messages": [], "input": "c"}, {"messages": [], "input": "d"}], "config": config},
        )
    assert graph.status_code == 200, graph.text
    assert [out["turns"] for out in graph.json()["output"]] == [1, 2]
    assert chat.status_code == 200 and len(chat.json()["output"]) == 2
    assert echo_server.state("ls-batch") == {"turns": 4}


@pytest.mark.parametrize(("text", "needle"), [("", "at least 1"), ("x" * 20000, "at most 8000")])
def test_the_chat_runnable_applies_the_message_limits(echo_server: LiveServer, text: str, needle: str) -> None:
    config = {"configurable": {"thread_id": "ls-limit"}}
    with echo_server.client() as client:
        body = {"input": {"messages": [], "input": text}, "config": config}
        response = client.post("/echo-bot/chat/invoke", json=body)
    assert response.status_code == 422 and needle in response.text
    assert echo_server.call(echo_server.agent.messages("ls-limit")) == []  # no turn ran
