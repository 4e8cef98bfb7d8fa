"""Interrupts over SSE and WebSocket with `specs/onboarding.yaml` (interrupt nodes, scripted model):
the `interrupt` event, `end.interrupted`, the answer landing in the slot, and the thread going on."""

from __future__ import annotations

import json
from typing import Any

from _server_support import LiveServer, stream
from test_websocket import until_end
from websockets.sync.client import connect


def _named(events: list[tuple[str, dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    return [data for event, data in events if event == name]


def test_sse_interrupt_then_the_next_message_answers_it(onboarding_server: LiveServer) -> None:
    with onboarding_server.client() as client:
        first = stream(client, message="Hi, I'd like to sign up.")
        thread = first[0][1]["thread_id"]
        second = stream(client, message="Ana Lima", thread_id=thread)
        third = stream(client, message="ana@example.com", thread_id=thread)
    [question] = _named(first, "interrupt")
    assert question["node"] == "ask_name" and "full name" in question["question"]
    end = first[-1][1]
    assert first[-1][0] == "end" and end["interrupted"] is True and end["reply"] == question["question"]
    assert "".join(t["text"] for t in _named(first, "token")) == question["question"]
    assert dict(second)["state"]["full_name"] == "Ana Lima"  # the answer landed in the slot
    [ask_email] = _named(second, "interrupt")
    assert ask_email["node"] == "ask_email" and "Nice to meet you, Ana Lima" in ask_email["question"]
    assert second[-1][1]["interrupted"] is True
    assert dict(third)["state"]["email"] == "ana@example.com"  # and the thread goes on
    assert "collect_address" in third[-1][1]["path"] and "welcome kit, Ana Lima" in third[-1][1]["reply"]
    assert onboarding_server.state(thread)["full_name"] == "Ana Lima"


def test_websocket_resume_frames_answer_interrupts(onboarding_server: LiveServer) -> None:
    with connect(f"{onboarding_server.ws_url}/ws/chat/onb-ws") as ws:
        ws.send(json.dumps({"type": "message", "text": "Hi"}))
        first = until_end(ws)
        ws.send(json.dumps({"type": "resume", "value": {"first": "Ana", "last": "Lima"}}))
        second = until_end(ws)
        ws.send(json.dumps({"type": "resume", "value": "ana@example.com"}))
        third = until_end(ws)
    interrupts = [f["data"] for f in first if f["event"] == "interrupt"]
    assert interrupts and interrupts[0]["node"] == "ask_name"
    assert first[-1]["event"] == "end" and first[-1]["data"]["interrupted"] is True
    state = next(f["data"] for f in second if f["event"] == "state")
    assert json.loads(state["full_name"]) == {"first": "Ana", "last": "Lima"}  # a non-string value, JSON-encoded
    assert [f["data"]["node"] for f in second if f["event"] == "interrupt"] == ["ask_email"]
    assert next(f["data"] for f in third if f["event"] == "state")["email"] == "ana@example.com"
    assert third[-1]["event"] == "end" and "collect_address" in third[-1]["data"]["path"]
