"""`/a2a` and the agent card: the official `a2a-sdk` client (its A2A 0.3 JSON-RPC transport) and
plain JSON-RPC over httpx against a real uvicorn on 127.0.0.1. Every answer is also checked against
the A2A 0.3 models of `a2a-sdk` (`a2a.compat.v0_3.types`)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from _server_support import LiveServer, echo_plan
from a2a.client import ClientConfig, create_client
from a2a.compat.v0_3 import types as a2a_v03
from a2a.types.a2a_pb2 import GetTaskRequest, Message, Part, Role, SendMessageRequest, TaskState
from httpx_sse import connect_sse

from factory.mockllm import MockLLMServer


def _message(text: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "message", "messageId": uuid.uuid4().hex, "role": "user",
            "parts": [{"kind": "text", "text": text}], **extra}


def _rpc(client: httpx.Client, method: str, params: Any, *, path: str = "/a2a") -> dict[str, Any]:
    response = client.post(path, json={"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["id"] == 7
    if "error" in body:
        a2a_v03.JSONRPCErrorResponse.model_validate(body)
    else:
        a2a_v03.SendMessageSuccessResponse.model_validate(body)
    return body


def _stream(client: httpx.Client, params: Any, *, path: str = "/a2a") -> list[dict[str, Any]]:
    body = {"jsonrpc": "2.0", "id": "s1", "method": "message/stream", "params": params}
    with connect_sse(client, "POST", path, json=body) as source:
        assert source.response.status_code == 200, source.response.read()
        return [json.loads(event.data)["result"] for event in source.iter_sse()]


def test_the_agent_card_says_where_and_what(onboarding_server: LiveServer) -> None:
    with onboarding_server.client() as client:
        card = client.get("/.well-known/agent-card.json").json()
        a2a_v03.AgentCard.model_validate(card)
        assert card["name"] == "onboarding" and "Flowly" in card["description"]
        assert card["url"] == f"{onboarding_server.url}/a2a/onboarding"
        assert card["capabilities"]["streaming"] is True and card["protocolVersion"] == "0.3.0"
        assert client.get("/.well-known/agent-card.json", params={"assistant_id": "onboarding"}).status_code == 200
        refused = client.get("/.well-known/agent-card.json", params={"assistant_id": "sales"})
        assert refused.status_code == 404 and "serves 'onboarding'" in refused.json()["detail"]


def test_the_sdk_client_answers_an_interrupt_in_the_same_task(onboarding_server: LiveServer) -> None:
    async def talk(streaming: bool) -> tuple[list[Any], list[Any], Any]:
        async with httpx.AsyncClient(timeout=30) as http:
            client = await create_client(onboarding_server.url,
                                         client_config=ClientConfig(httpx_client=http, streaming=streaming))
            first = [e async for e in client.send_message(SendMessageRequest(message=Message(
                message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[Part(text="Hi, I'd like to sign up.")])))]
            task = first[0].task
            second = [e async for e in client.send_message(SendMessageRequest(message=Message(
                message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[Part(text="Ana Lima")],
                task_id=task.id, context_id=task.context_id)))]
            return first, second, await client.get_task(GetTaskRequest(id=task.id))

    for streaming in (False, True):
        first, second, task = asyncio.run(talk(streaming))
        final = first[-1].status_update.status if streaming else first[-1].task.status
        assert final.state == TaskState.TASK_STATE_INPUT_REQUIRED
        assert "full name" in final.message.parts[0].text
        assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        assert "Nice to meet you, Ana Lima" in task.status.message.parts[0].text
        assert [m.parts[0].text for m in task.history if m.role == Role.ROLE_USER] == [
            "Hi, I'd like to sign up.", "Ana Lima"]
        assert onboarding_server.state(task.context_id)["full_name"] == "Ana Lima"
        assert len(second) >= 1


def test_message_stream_sends_the_task_then_working_then_the_reply_in_chunks(onboarding_server: LiveServer) -> None:
    with onboarding_server.client() as client:
        results = _stream(client, {"message": _message("hello")})
    task, working, *chunks, final = results
    a2a_v03.Task.model_validate(task)
    a2a_v03.TaskStatusUpdateEvent.model_validate(working)
    for chunk in chunks:
        a2a_v03.TaskArtifactUpdateEvent.model_validate(chunk)
    a2a_v03.TaskStatusUpdateEvent.model_validate(final)
    assert task["kind"] == "task" and task["status"]["state"] == "submitted"
    assert working["status"]["state"] == "working" and working["final"] is False
    assert len(chunks) > 2 and all(c["kind"] == "artifact-update" for c in chunks)
    assert [c["append"] for c in chunks] == [False] + [True] * (len(chunks) - 1)
    assert [c["lastChunk"] for c in chunks] == [False] * (len(chunks) - 1) + [True]
    reply = "".join(c["artifact"]["parts"][0]["text"] for c in chunks)
    assert final["final"] is True and final["status"]["state"] == "input-required"
    assert final["status"]["message"]["parts"][0]["text"] == reply and "full name" in reply
    assert {r["taskId"] for r in results[1:]} == {task["id"]}
    assert {r["contextId"] for r in results} == {task["contextId"]}


def test_a_message_on_the_same_context_answers_the_interrupt_in_a_new_task(onboarding_server: LiveServer) -> None:
    thread = f"a2a-{uuid.uuid4().hex[:8]}"
    with onboarding_server.client() as client:
        first = _rpc(client, "message/send", {"message": _message("hi", contextId=thread)})["result"]
        second = _rpc(client, "message/send", {"message": _message("Bo Chen", contextId=thread)},
                      path="/a2a/onboarding")["result"]
        got = _rpc(client, "tasks/get", {"id": first["id"], "historyLength": 1})["result"]
    assert first["contextId"] == second["contextId"] == thread and first["id"] != second["id"]
    assert "Nice to meet you, Bo Chen" in second["status"]["message"]["parts"][0]["text"]
    assert got["status"]["state"] == "input-required" and len(got["history"]) == 1
    assert onboarding_server.state(thread)["full_name"] == "Bo Chen"


def test_a_completed_turn_and_a_model_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("FACTORY_CHECKPOINTER", raising=False)
    script = {"rules": [{"when": {"last_user_regex": "fail"}, "fail": {"status": 400, "message": "no such model"}}],
              "default": {"text": "Hello from the mock model."}}
    with MockLLMServer(script) as mock, LiveServer(echo_plan(mock.base_url), base_dir=tmp_path) as server, \
            server.client() as client:
        done = _rpc(client, "message/send", {"message": _message("hi")}, path="/a2a/echo-bot")["result"]
        assert done["status"]["state"] == "completed"
        assert done["artifacts"][0]["parts"] == [{"kind": "text", "text": "Hello from the mock model."}]
        thread = done["contextId"]
        failed = _rpc(client, "message/send", {"message": _message("please fail", contextId=thread)})["result"]
        assert failed["status"]["state"] == "failed"
        assert failed["status"]["message"]["parts"][0]["text"].startswith("model_error: ")
        assert len(server.call(server.agent.messages(thread))) == 2  # the failed turn left nothing behind
        again = _rpc(client, "message/send", {"message": _message("more", taskId=done["id"])})
        assert again["error"]["code"] == -32602 and "is completed" in again["error"]["message"]


def test_a_busy_thread_is_a_server_error_with_the_code(onboarding_server: LiveServer) -> None:
    thread = uuid.uuid4().hex
    held = onboarding_server.call(onboarding_server.agent.open_turn("hi", thread_id=thread))
    try:
        with onboarding_server.client() as client:
            body = _rpc(client, "message/send", {"message": _message("hi", contextId=thread)})
    finally:
        onboarding_server.call(held.aclose())
    assert body["error"]["code"] == -32000 and body["error"]["data"]["code"] == "thread_busy"
    assert "already running" in body["error"]["message"]


BAD_PARAMS = [
    ({"message": {**_message("hi"), "role": "agent"}}, -32602, "params.message.role: Input should be 'user'"),
    ({"message": {**_message("hi"), "parts": []}}, -32602, "params.message.parts: List should have at least 1"),
    ({}, -32602, "params.message: a value: the field is required"),
    ({"message": _message("hi", contextId="no spaces please")}, -32602, "params.message.contextId: a thread id"),
    ({"message": _message("x" * 20_001)}, -32602, "the limit is 8000"),
    ({"message": _message("   ")}, -32602, "the message has no text"),
    ({"message": {**_message("hi"), "parts": [{"kind": "file", "file": {"uri": "https://x/y.pdf"}}]}}, -32005,
     "file parts are not supported"),
    ({"message": _message("hi", taskId="nope")}, -32001, "no task 'nope'"),
]


@pytest.mark.parametrize(("params", "code", "text"), BAD_PARAMS)
def test_bad_params_are_named(onboarding_server: LiveServer, params: Any, code: int, text: str) -> None:
    with onboarding_server.client() as client:
        body = _rpc(client, "message/send", params)
    assert body["error"]["code"] == code and text in body["error"]["message"], body


@pytest.mark.parametrize(("raw", "code", "text"), [
    (b"{not json", -32700, "the body is not valid JSON"),
    (b"[]", -32600, "batch requests are not supported"),
    (b'"hi"', -32600, "a JSON-RPC request is a JSON object, not a string"),
    (b'{"id": 1, "method": "message/send"}', -32600, '`jsonrpc` must be "2.0"'),
    (b'{"jsonrpc": "2.0", "method": "message/send", "params": {}}', -32600, "`id` is missing"),
    (b'{"jsonrpc": "2.0", "id": 1}', -32600, "`method` must be a string"),
    (b'{"jsonrpc": "2.0", "id": [1], "method": "tasks/get"}', -32600, "`id` must be a string, an integer or null"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "tasks/list"}', -32601, "unknown method 'tasks/list'"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "tasks/cancel", "params": {"id": "x"}}', -32004, "not supported"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": [1]}', -32602, "`params` must be an object"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": 3}}', -32602, "params.id: Input should be"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": "gone"}}', -32001, "no task 'gone'"),
])
def test_every_body_is_validated(onboarding_server: LiveServer, raw: bytes, code: int, text: str) -> None:
    with onboarding_server.client() as client:
        response = client.post("/a2a", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 200
    body = response.json()
    a2a_v03.JSONRPCErrorResponse.model_validate(body)
    assert body["error"]["code"] == code and text in body["error"]["message"], body


def test_an_unknown_assistant_is_a_404(onboarding_server: LiveServer) -> None:
    with onboarding_server.client() as client:
        response = client.post("/a2a/sales", json={"jsonrpc": "2.0", "id": 1, "method": "tasks/get",
                                                    "params": {"id": "x"}})
    assert response.status_code == 404 and response.json()["error"]["data"]["code"] == "not_found"
    assert "serves 'onboarding' at /a2a/onboarding" in response.json()["error"]["message"]
