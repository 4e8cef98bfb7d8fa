"""API keys (401 / WebSocket 1008), CORS, probes and the test page, on a real uvicorn."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import openai
import pytest
from _server_support import LiveServer, echo_plan, error_of
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from factory.mockllm import MockLLMServer


@pytest.fixture
def keyed_server(mock_llm: MockLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ECHO_KEYS", "k-one, k-two")
    plan = echo_plan(mock_llm.base_url, auth={"api_keys_env": "ECHO_KEYS"}, cors_origins=["https://app.example"])
    with LiveServer(plan, base_dir=tmp_path) as server:
        yield server


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/chat/stream"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/echo-bot/invoke"),
        ("POST", "/echo-bot/chat/stream_log"),
        ("GET", "/v1/models"),
    ],
)
def test_routes_need_a_key(keyed_server: LiveServer, method: str, path: str) -> None:
    with keyed_server.client() as client:
        response = client.request(method, path, json={})
        assert response.status_code == 401 and error_of(response)[0] == "unauthorized"
        assert "API key" in error_of(response)[1] and response.headers["www-authenticate"] == "Bearer"
        assert client.request(method, path, json={}, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.request(method, path, json={}, headers={"X-API-Key": "k-two"}).status_code != 401


def test_open_routes_and_a_valid_key(keyed_server: LiveServer) -> None:
    with keyed_server.client() as client:
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code == 200
        assert client.get("/test/streaming").status_code == 200
        assert client.get("/echo-bot/chat/playground/").status_code == 200
    sdk = openai.OpenAI(base_url=f"{keyed_server.url}/v1", api_key="k-one", max_retries=0)
    reply = sdk.chat.completions.create(model="echo-bot", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{keyed_server.url}/v1", api_key="nope", max_retries=0).models.list()


def test_websocket_without_a_key_is_closed_with_1008(keyed_server: LiveServer) -> None:
    with connect(f"{keyed_server.ws_url}/ws/chat/t1") as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert "api key" in closed.value.rcvd.reason  # what clients tell an auth failure by
    with connect(f"{keyed_server.ws_url}/ws/chat/t1?api_key=k-one") as ws:
        ws.send(json.dumps({"type": "message", "text": "hi"}))
        assert json.loads(ws.recv(timeout=5))["event"] == "metadata"


def test_the_test_page_cookie_is_url_decoded(
    mock_llm: MockLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/test/streaming stores `encodeURIComponent(key)`; a key with `/`, `+`, `=` must still work."""
    key = "k/one+two=="
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ECHO_KEYS", key)
    plan = echo_plan(mock_llm.base_url, auth={"api_keys_env": "ECHO_KEYS"})
    with LiveServer(plan, base_dir=tmp_path) as server, server.client() as client:
        page = client.get("/test/streaming").text
        ok = client.get("/v1/models", headers={"Cookie": f"factory_api_key={quote(key, safe='')}"})
        raw = client.get("/v1/models", headers={"Cookie": f'factory_api_key="{key}"'})
        wrong = client.get("/v1/models", headers={"Cookie": "factory_api_key=k%2Fother"})
    assert "encodeURIComponent(key)" in page
    assert ok.status_code == 200 and ok.json()["data"][0]["id"] == "echo-bot"
    assert raw.status_code == 200 and wrong.status_code == 401


@pytest.mark.parametrize(
    "path", ["/chat/stream", "/v1/chat/completions", "/echo-bot/invoke", "/echo-bot/batch", "/echo-bot/chat/stream"]
)
def test_an_oversized_body_is_a_json_413_on_every_route(echo_server: LiveServer, path: str) -> None:
    with echo_server.client() as client:
        body = json.dumps({"input": "x" * 70000})
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        chunked = client.post(path, content=iter([body.encode()]))  # no content-length: counted as it arrives
    assert response.status_code == 413 and error_of(response)[0] == "body_too_large"
    assert "65536" in error_of(response)[1]
    assert chunked.status_code == 413 and error_of(chunked) == error_of(response)


def test_cors_allows_the_configured_origin_only(keyed_server: LiveServer) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    with keyed_server.client() as client:
        ok = client.options("/chat/stream", headers={"Origin": "https://app.example", **preflight})
        bad = client.options("/chat/stream", headers={"Origin": "https://evil.example", **preflight})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in bad.headers


def test_auth_configured_without_keys_refuses_to_start(
    mock_llm: MockLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from graphs.server import create_app
    from graphs.server.auth import AuthConfigError

    monkeypatch.delenv("MISSING_KEYS", raising=False)
    with pytest.raises(AuthConfigError, match="MISSING_KEYS"):
        create_app(echo_plan(mock_llm.base_url, auth={"api_keys_env": "MISSING_KEYS"}), base_dir=tmp_path)


def test_probes_docs_and_test_page(echo_server: LiveServer) -> None:
    with echo_server.client() as client:
        assert client.get("/health").json() == {"status": "ok"}
        ready = client.get("/ready").json()
        assert ready["status"] == "ready" and ready["checkpointer"] == "sqlite"
        paths = client.get("/openapi.json").json()["paths"]
        assert {"/chat/stream", "/v1/chat/completions", "/echo-bot/invoke"} <= set(paths)
        page = client.get("/test/streaming")
        assert "stream-ttft" in page.text and "echo-bot" in page.text
        redirect = client.get("/echo-bot/playground/", follow_redirects=False)
        assert redirect.status_code == 307 and redirect.headers["location"] == "/echo-bot/chat/playground/"
    assert isinstance(echo_server.app.state.factory.limits.max_body_bytes, int)
