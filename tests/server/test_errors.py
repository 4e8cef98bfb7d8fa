"""One error mapping for every route family, on a real uvicorn: the body's shape, the request id, and an
unexpected exception answered as `internal_error` and logged once."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _server_support import LiveServer, echo_plan
from fastapi import WebSocket
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from factory.mockllm import MockLLMServer


class Boom(RuntimeError):
    """A bug in a route: nothing maps it, so it is an `internal_error`."""


@pytest.fixture
def booming_server(mock_llm: MockLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   caplog: pytest.LogCaptureFixture) -> Iterator[LiveServer]:
    """The echo agent plus two routes with a bug (added through FastAPI's own API before it starts)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    caplog.set_level(logging.INFO)
    uvicorn_log = logging.getLogger("uvicorn")  # does not propagate to the root logger caplog listens on
    uvicorn_log.addHandler(caplog.handler)
    server = LiveServer(echo_plan(mock_llm.base_url), base_dir=tmp_path)

    async def boom() -> None:
        raise Boom("the bug")

    async def ws_boom(ws: WebSocket) -> None:
        await ws.accept()
        raise Boom("the socket's bug")

    server.app.add_api_route("/boom", boom, methods=["GET"])
    server.app.add_api_websocket_route("/ws/boom", ws_boom)
    with server:
        yield server
    uvicorn_log.removeHandler(caplog.handler)


def test_an_unexpected_error_is_internal_error_with_its_request_id_logged_once(
    booming_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    with booming_server.client() as client:
        response = client.get("/boom", headers={"X-Request-Id": "req-42"})
        fresh = client.get("/boom")
    assert response.status_code == 500 and response.headers["x-request-id"] == "req-42"
    assert response.json() == {"code": "internal_error", "retryable": False, "field": None, "errors": [],
                               "request_id": "req-42", "detail": response.json()["detail"]}
    assert fresh.json()["request_id"] == fresh.headers["x-request-id"] and len(fresh.headers["x-request-id"]) == 32
    logged = [r for r in caplog.records if r.exc_info]
    assert [r.getMessage() for r in logged] == [
        "unexpected error in GET /boom (request req-42)",
        f"unexpected error in GET /boom (request {fresh.headers['x-request-id']})",
    ]
    assert all(isinstance(r.exc_info[1], Boom) for r in logged if r.exc_info)
    assert "Exception in ASGI application" not in caplog.text  # not logged a second time by uvicorn


def test_an_unexpected_error_in_a_websocket_closes_it_with_1011(
    booming_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    with connect(f"{booming_server.ws_url}/ws/boom") as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    received = closed.value.rcvd
    assert received is not None and (received.code, received.reason) == (1011, "internal_error")
    assert [r.getMessage().split(" (request")[0] for r in caplog.records if r.exc_info] == [
        "unexpected error in WS /ws/boom"]


def _post(server: LiveServer, path: str, body: Any, **headers: str) -> Any:
    with server.client() as client:
        return client.post(path, content=json.dumps(body), headers={"content-type": "application/json", **headers})


@pytest.mark.parametrize(
    ("path", "body", "field", "given"),
    [
        ("/echo-bot/invoke", {"input": {"messages": []}, "config": None}, "config", "None"),
        ("/echo-bot/invoke", [1, 2], "", "[1, 2]"),
        ("/echo-bot/batch", {"inputs": 5}, "inputs", "5"),
        ("/echo-bot/stream", {"input": {"turns": 2**60}}, "input.turns", str(2**60)),
        ("/echo-bot/chat/stream_log", {"input": {"input": "hi", "messages": [{"runId": "a b"}]}},
         "input.messages[0].runId", "'a b'"),
        ("/chat/stream", {"message": "hi", "mocks": {"x": [[[[1e300]]]]}}, "mocks.x", "[[[[1e+300]]]]"),
    ],
)
def test_a_bad_body_names_the_field_what_was_expected_and_the_value_given(
    echo_server: LiveServer, path: str, body: Any, field: str, given: str
) -> None:
    response = _post(echo_server, path, body)
    problem = response.json()
    assert response.status_code == 422 and problem["code"] == "invalid_request", problem
    assert problem["field"] == (field or None) and problem["errors"][0]["in"] == "body"
    assert problem["errors"][0]["field"] == field and problem["errors"][0]["given"] == given
    assert problem["errors"][0]["expected"] and problem["detail"].startswith(field or "body")
    assert problem["request_id"] == response.headers["x-request-id"]


def test_openai_routes_spell_the_same_errors_in_openai_shape(echo_server: LiveServer) -> None:
    header = _post(echo_server, "/v1/chat/completions", {"model": "echo-bot", "messages": [{"role": "user",
                   "content": "hi"}]}, **{"X-Thread-Id": "not a thread"})
    body = _post(echo_server, "/v1/chat/completions", {"model": "echo-bot", "messages": [{"role": "robot"}]})
    assert header.status_code == 422 and header.json()["error"] == {
        "message": header.json()["error"]["message"], "type": "invalid_request_error", "code": "bad_thread_id",
        "param": "X-Thread-Id"}
    assert "1 to 128 letters" in header.json()["error"]["message"]
    assert body.status_code == 422 and body.json()["error"]["param"] == "messages[0].role"


def test_unknown_routes_and_methods_are_json_too(echo_server: LiveServer) -> None:
    with echo_server.client() as client:
        missing = client.get("/nowhere")
        method = client.get("/chat/stream")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert method.status_code == 405 and method.json()["code"] == "invalid_request"
