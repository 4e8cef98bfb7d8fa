"""Bad requests to the Agent Server API get clear JSON answers naming what was wrong: unknown ids 404,
malformed or unsupported bodies 422 (with the field's `loc`), a busy thread 409; never a 500."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from _serve import Served

from factory.mockllm import MockLLMServer

USER = {"messages": [{"role": "user", "content": "hi"}]}
MODES = "literal['values','updates','messages-tuple','custom','tools']"


def _run(**extra: Any) -> dict[str, Any]:
    return {"assistant_id": "chat-bot", "input": USER, **extra}


@pytest.fixture
def http(chat_server: Served) -> Any:
    with chat_server.client() as client:
        yield client


@pytest.fixture
def thread(http: httpx.Client) -> str:
    return str(http.post("/threads", json={}).json()["thread_id"])


def _locs(answer: httpx.Response) -> list[list[Any]]:
    assert answer.status_code == 422, answer.text
    return [e["loc"] for e in answer.json()["detail"]]


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/threads/nope"), ("GET", "/threads/nope/state"), ("POST", "/threads/nope/history"),
    ("PATCH", "/threads/nope"), ("DELETE", "/threads/nope"), ("GET", "/threads/nope/runs"),
    ("GET", "/assistants/nope"), ("GET", "/assistants/nope/graph"), ("GET", "/assistants/nope/schemas"),
])
def test_unknown_threads_and_assistants_are_404(http: httpx.Client, method: str, path: str) -> None:
    body = {"metadata": {}} if method == "PATCH" else ({} if method == "POST" else None)
    answer = http.request(method, path, json=body)
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    assert "'nope'" in answer.json()["detail"]


@pytest.mark.parametrize("suffix", ["", "/join", "/stream"])
def test_unknown_runs_are_404(http: httpx.Client, thread: str, suffix: str) -> None:
    answer = http.get(f"/threads/{thread}/runs/no-such-run{suffix}")
    assert answer.status_code == 404 and answer.json() == {
        "detail": f"run 'no-such-run' of thread '{thread}' not found", "code": "not_found"}
    assert http.post(f"/threads/{thread}/runs/no-such-run/cancel").status_code == 404


def test_an_unknown_assistant_is_404_naming_the_served_one(http: httpx.Client, thread: str) -> None:
    answer = http.post(f"/threads/{thread}/runs/wait", json=_run(assistant_id="agent"))
    assert answer.status_code == 404 and "'agent' not found: this server serves 'chat-bot'" in answer.json()["detail"]


@pytest.mark.parametrize(("body", "loc"), [
    ({"stream_mode": "debug"}, ["body", "stream_mode", MODES]),
    ({"stream_mode": ["values", "events"]}, ["body", "stream_mode", f"list[{MODES}]", 1]),
    ({"multitask_strategy": "enqueue"}, ["body", "multitask_strategy"]),
    ({"on_disconnect": "later"}, ["body", "on_disconnect"]),
    ({"stream_resumable": "true"}, ["body", "stream_resumable"]),
    ({"webhook": "http://x"}, ["body", "webhook"]),
    ({"interrupt_before": ["answer"]}, ["body", "interrupt_before"]),
    ({"input": {"messages": [{"role": "ai", "content": "hi"}]}}, ["body", "input", "messages", 0, "role"]),
    ({"input": {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]}},
     ["body", "input", "messages", 0, "content", "list[ContentBlock]", 0, "type"]),
    ({"input": {"messages": [{"content": "hi"}]}}, ["body", "input", "messages", 0]),
    ({"input": {"messages": [{"role": "user", "content": "   "}]}}, ["body", "input", "messages", 0, "content"]),
    ({"input": {"messages": [{"role": "user", "content": "x" * 9000}]}}, ["body", "input", "messages", 0, "content"]),
    ({"input": {"messages": [{"role": "user", "content": "hi"}], "turns": 5}}, ["body", "input", "turns"]),
    ({"command": {"resume": "x"}}, ["body"]),
    ({"input": None}, ["body"]),
    ({"command": {"goto": "answer"}, "input": None}, ["body", "command", "goto"]),
])
def test_malformed_run_requests_are_422_naming_the_field(http: httpx.Client, thread: str, body: dict[str, Any],
                                                         loc: list[Any]) -> None:
    answer = http.post(f"/threads/{thread}/runs/stream", json=_run(**body))
    assert loc in _locs(answer)


def test_a_body_that_is_not_json_is_422(http: httpx.Client, thread: str) -> None:
    for raw in (b"{not json", b"\xff\xfe", b""):
        answer = http.post(f"/threads/{thread}/runs/stream", content=raw, headers={"content-type": "application/json"})
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][0] == "body", raw


def test_bad_ids_in_paths_and_headers_are_422(http: httpx.Client, thread: str) -> None:
    assert ["path", "thread_id"] in _locs(http.get("/threads/has space"))
    assert ["body", "thread_id"] in _locs(http.post("/threads", json={"thread_id": "a/b"}))
    run = http.post(f"/threads/{thread}/runs", json=_run()).json()
    answer = http.get(f"/threads/{thread}/runs/{run['run_id']}/stream", headers={"Last-Event-ID": "seven"})
    assert ["header", "last-event-id"] in _locs(answer)
    assert "not an event id" in answer.json()["detail"][0]["msg"]
    http.get(f"/threads/{thread}/runs/{run['run_id']}/join")


def test_a_second_run_on_a_busy_thread_is_409(http: httpx.Client, thread: str, model: MockLLMServer) -> None:
    model.set_script({"default": {"text": "a b c d e f g h", "token_delay_ms": 100}})
    run = http.post(f"/threads/{thread}/runs", json=_run()).json()
    answer = http.post(f"/threads/{thread}/runs/stream", json=_run())
    assert answer.status_code == 409 and answer.json()["code"] == "thread_busy"
    assert f"thread '{thread}'" in answer.json()["detail"]
    assert http.delete(f"/threads/{thread}").status_code == 409
    assert http.get(f"/threads/{thread}").json()["status"] == "busy"
    http.post(f"/threads/{thread}/runs/{run['run_id']}/cancel", params={"wait": 1})
    assert http.get(f"/threads/{thread}").json()["status"] == "idle"


def test_threads_that_exist_and_checkpoints_that_are_not_the_latest(http: httpx.Client, thread: str) -> None:
    again = http.post("/threads", json={"thread_id": thread})
    assert again.status_code == 409 and again.json()["code"] == "already_exists"
    same = http.post("/threads", json={"thread_id": thread, "if_exists": "do_nothing"})
    assert same.status_code == 200 and same.json()["thread_id"] == thread
    http.post(f"/threads/{thread}/runs/wait", json=_run())
    first = http.get(f"/threads/{thread}/state").json()["checkpoint"]
    http.post(f"/threads/{thread}/runs/wait", json=_run(checkpoint=first))  # the latest: fine
    answer = http.post(f"/threads/{thread}/runs/wait", json=_run(checkpoint=first))
    assert ["body", "checkpoint", "checkpoint_id"] in _locs(answer)
    assert "not supported" in answer.json()["detail"][0]["msg"]


def test_a_resume_without_a_pending_interrupt_is_409(http: httpx.Client, thread: str) -> None:
    answer = http.post(f"/threads/{thread}/runs/wait", json={"assistant_id": "chat-bot", "command": {"resume": 1}})
    assert answer.status_code == 409 and answer.json()["code"] == "no_interrupt"
    stateless = http.post("/runs/stream", json={"assistant_id": "chat-bot", "command": {"resume": 1}})
    assert stateless.status_code == 409


def test_search_limits_are_checked(http: httpx.Client) -> None:
    assert ["body", "limit"] in _locs(http.post("/threads/search", json={"limit": 0}))
    assert ["body", "offset"] in _locs(http.post("/threads/search", json={"offset": -1}))
    assert ["body", "sort_by"] in _locs(http.post("/threads/search", json={"sort_by": "values"}))
    assert ["body", "limit"] in _locs(http.post("/assistants/search", json={"limit": 5000}))


def test_cancel_of_a_finished_run_changes_nothing(http: httpx.Client, thread: str) -> None:
    run = http.post(f"/threads/{thread}/runs", json=_run()).json()
    http.get(f"/threads/{thread}/runs/{run['run_id']}/join")
    deadline = time.monotonic() + 5
    while http.get(f"/threads/{thread}/runs/{run['run_id']}").json()["status"] == "running":
        assert time.monotonic() < deadline
    assert http.post(f"/threads/{thread}/runs/{run['run_id']}/cancel").status_code == 202
    assert http.get(f"/threads/{thread}/runs/{run['run_id']}").json()["status"] == "success"
