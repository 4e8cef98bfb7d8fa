"""LangServe routes through `RemoteRunnable`: the graph at `serve.path`, the chat runnable at `.../chat`."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from _server_support import LiveServer
from langserve import RemoteRunnable

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
    from graphs.server.langserve_routes import playground_thread_id

    assert playground_thread_id([], "r1") == "playground-r1"
    history = [{"type": "human", "content": "x"}, {"type": "ai", "content": "y", "runId": "r0"}]
    assert playground_thread_id(history, "r9") == "playground-r0"
