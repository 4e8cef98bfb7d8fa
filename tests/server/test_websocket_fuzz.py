"""Hypothesis throws frames at `/ws/chat/{thread}` on a real uvicorn (the `websockets` client).

Malformed JSON, JSON of every shape, frames with the right `type` and wrong fields, binary frames
(UTF-8 or not), frames over the body limit and over uvicorn's hard cap, JSON nested too deeply.
Every frame must get a documented answer within seconds: an `error` frame with a frame code, a
turn that ends with `end`, or (only for a frame over the hard cap) a close with code 1009. The
socket must never hang, the server must never log a traceback, and it must still chat at the end.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

import pytest
from _server_support import LiveServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

FRAME_CODES = {"bad_json", "bad_frame", "unknown_frame", "frame_too_large", "message_too_long", "no_turn",
               "forbidden", "thread_busy"}
MESSAGE_TOO_BIG = 1009  # uvicorn's close for a frame over `ws_max_size`

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30) | st.sampled_from(["\ud800", "a\udfffb", "", "x" * 9000]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_typed = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "resume", "cancel"]) | st.text(max_size=8)},
    optional={"text": _json, "value": _json, "script": _json, "mocks": _json, "extra": _json},
)
FRAMES = st.one_of(
    _json.map(lambda value: json.dumps(value)),
    _typed.map(lambda frame: json.dumps(frame)),
    _typed.map(lambda frame: json.dumps(frame).encode()),  # a binary frame holding UTF-8 JSON
    st.text(max_size=100),  # mostly not JSON
    st.binary(max_size=100),  # mostly not UTF-8
    st.integers(1, 200_000).map(lambda n: json.dumps({"type": "message", "text": "x" * n})),
    st.integers(100, 60_000).map(lambda n: "[" * n),  # nested deeper than any parser goes
    st.just(b"x" * (2 << 20)),  # over uvicorn's hard cap: closed with 1009
)


class _Socket:
    """One connection at a time, reopened when the server closed it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: ClientConnection | None = None
        self.stack = contextlib.ExitStack()

    def open(self) -> ClientConnection:
        if self.ws is None:
            self.ws = self.stack.enter_context(connect(self.url, max_size=None, open_timeout=10))
        return self.ws

    def answer(self, frame: str | bytes) -> dict[str, Any]:
        """Send `frame`; return the error frame, the turn's last event, or `{"closed": code}`."""
        ws = self.open()
        try:
            ws.send(frame)
            while True:
                message = json.loads(ws.recv(timeout=15))
                if message["event"] in ("error", "end"):
                    return message  # type: ignore[no-any-return]
        except ConnectionClosed as closed:
            self.ws = None
            return {"closed": closed.rcvd.code if closed.rcvd else None}

    def close(self) -> None:
        self.stack.close()


def test_fuzzed_frames_get_a_documented_answer_and_never_crash_the_server(
    echo_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    uvicorn_log = logging.getLogger("uvicorn")  # does not propagate to the root logger caplog listens on
    uvicorn_log.addHandler(caplog.handler)
    socket = _Socket(f"{echo_server.ws_url}/ws/chat/fuzz")
    seen: set[str] = set()

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(FRAMES)
    @example("{not json")
    @example("[" * 50_000)
    @example(json.dumps([1, 2]))
    @example(json.dumps({"type": "message", "text": 5}))
    @example(json.dumps({"type": "resume", "value": {"n": 2**70}}))
    @example(json.dumps({"type": "message", "text": "x" * 9000}))
    @example(json.dumps({"type": "message", "text": "x" * 70_000}))
    @example(b"\xff\xfe")
    @example(b"x" * (2 << 20))
    @example(json.dumps({"type": "message", "text": "hi"}).encode())
    def answered(frame: str | bytes) -> None:
        answer = socket.answer(frame)
        if "closed" in answer:
            assert isinstance(frame, bytes) and len(frame) > echo_server.app.state.factory.limits.ws_hard_max_bytes
            assert answer["closed"] == MESSAGE_TOO_BIG
            seen.add("closed")
        elif answer["event"] == "error":
            assert answer["data"]["code"] in FRAME_CODES, answer
            assert answer["data"]["message"] and answer["data"]["retryable"] in (True, False)
            seen.add(answer["data"]["code"])
        else:
            assert answer["data"]["reply"] == "Hello from the mock model, nice to meet you."
            seen.add("end")

    try:
        answered()
        last = socket.answer(json.dumps({"type": "message", "text": "still there?"}))
    finally:
        socket.close()
        uvicorn_log.removeHandler(caplog.handler)
    assert last["event"] == "end"
    assert {"bad_json", "unknown_frame", "bad_frame", "message_too_long", "frame_too_large", "closed", "end"} <= seen
    crashes = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not crashes, [r.getMessage() for r in crashes]
