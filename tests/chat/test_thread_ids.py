"""The chat checks thread ids with the server's rule, so a bad one never reaches the wire."""

from __future__ import annotations

from factory.chat.transports import THREAD_ID_PATTERN, valid_thread_id
from graphs.server.sse import THREAD_ID_PATTERN as SERVER_PATTERN


def test_the_client_uses_the_servers_pattern() -> None:
    assert THREAD_ID_PATTERN == SERVER_PATTERN


def test_valid_thread_ids() -> None:
    assert valid_thread_id("t-42") and valid_thread_id("a" * 128) and valid_thread_id("x.y:z_1")
    assert not any(valid_thread_id(t) for t in ("", "bad/id", "bad id!", "a" * 129, "t\n"))
