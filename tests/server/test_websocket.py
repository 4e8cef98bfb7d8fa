"""`/ws/chat/{thread_id}` with the `websockets` client against a real uvicorn."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _server_support import LiveServer
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from factory.mockllm import MockLLMServer


def until_end(ws: ClientConnection) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = json.loads(ws.recv(timeout=10))
        frames.append(frame)
        if frame["event"] in ("end", "error"):
            return frames


def test_many_turns_on_one_socket(echo_server: LiveServer) -> None:
    with connect(f"{echo_server.ws_url}/ws/chat/ws-thread") as ws:
        ws.send(json.dumps({"type": "message", "text": "one"}))
        first = until_end(ws)
        ws.send(json.dumps({"type": "message", "text": "two"}))
        second = until_end(ws)
    assert first[0] == {
        "event": "metadata",
        "data": {"thread_id": "ws-thread", "run_id": first[0]["data"]["run_id"], "agent": "echo-bot"},
    }
    assert [f["event"] for f in first].count("token") >= 5
    assert second[-1]["event"] == "end" and second[-2] == {"event": "state", "data": {"turns": 2}}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_json"),
        (json.dumps({"type": "dance"}), "unknown_frame"),
        (json.dumps([1, 2]), "unknown_frame"),
        (json.dumps({"type": "message"}), "bad_frame"),
        (json.dumps({"type": "message", "text": "x" * 9000}), "message_too_long"),
        (json.dumps({"type": "message", "text": "x" * 70000}), "frame_too_large"),
        (json.dumps({"type": "message", "text": "hi", "script": {}}), "forbidden"),
        (json.dumps({"type": "cancel"}), "no_turn"),
        ('{"type": "message", "text": "\\ud800"}', "bad_frame"),  # a lone surrogate is not UTF-8 text
        ('{"type": "resume", "value": "a\\udfffb"}', "bad_frame"),
    ],
)
def test_bad_frames_get_an_error_frame_and_the_socket_stays_open(
    echo_server: LiveServer, frame: str, code: str
) -> None:
    with connect(f"{echo_server.ws_url}/ws/chat/bad-frames") as ws:
        ws.send(frame)
        error = json.loads(ws.recv(timeout=10))
        assert error["event"] == "error" and error["data"]["code"] == code, error
        ws.send(json.dumps({"type": "message", "text": "still there?"}))
        assert until_end(ws)[-1]["event"] == "end"


def test_cancel_stops_the_model_and_a_busy_socket_refuses_a_second_message(
    echo_server: LiveServer, mock_llm: MockLLMServer
) -> None:
    mock_llm.set_script(
        {"queue": [{"text": "slow ", "tokens": 200, "token_delay_ms": 50}], "default": {"text": "Quick."}}
    )
    with connect(f"{echo_server.ws_url}/ws/chat/ws-cancel") as ws:
        ws.send(json.dumps({"type": "message", "text": "long one"}))
        while json.loads(ws.recv(timeout=10))["event"] != "token":
            pass
        ws.send(json.dumps({"type": "message", "text": "another"}))
        ws.send(json.dumps({"type": "cancel"}))
        codes = []
        while "cancelled" not in codes:
            frame = json.loads(ws.recv(timeout=10))
            if frame["event"] == "error":
                codes.append(frame["data"]["code"])
        assert codes == ["thread_busy", "cancelled"]
        mock_llm.wait_for_event("disconnected", timeout=5)
        ws.send(json.dumps({"type": "message", "text": "again"}))
        frames = until_end(ws)
    assert frames[-1]["data"]["reply"] == "Quick."
    assert {"event": "state", "data": {"turns": 1}} in frames  # the cancelled turn left no trace


def test_closing_the_socket_cancels_the_model_call(echo_server: LiveServer, mock_llm: MockLLMServer) -> None:
    mock_llm.set_script({"default": {"text": "slow ", "tokens": 200, "token_delay_ms": 50}})
    with connect(f"{echo_server.ws_url}/ws/chat/ws-close") as ws:
        ws.send(json.dumps({"type": "message", "text": "long one"}))
        while json.loads(ws.recv(timeout=10))["event"] != "token":
            pass
    assert mock_llm.wait_for_event("disconnected", timeout=5).request_id == 1


def test_a_bad_thread_id_gets_an_error_frame_and_a_close_that_is_not_an_auth_failure(
    echo_server: LiveServer,
) -> None:
    with connect(f"{echo_server.ws_url}/ws/chat/bad%20id!") as ws:
        error = json.loads(ws.recv(timeout=5))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert error["event"] == "error" and error["data"]["code"] == "bad_thread_id"
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "bad thread id")

