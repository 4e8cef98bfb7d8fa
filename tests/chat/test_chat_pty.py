"""`factory chat` in a pseudo-terminal: in-process, and against a real server over SSE and WebSocket.

The scripted model answers "[scripted model: no script for node 'ask_company'] You said: MESSAGE"
with 40 ms between tokens, so a reply takes about a second to stream and can be watched mid-way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from chat_harness import SPEC, Server, Term, start_server, stop_server

MODES = ["in-process", "sse", "ws"]
LONG = "tell me about alpha beta gamma delta epsilon zeta eta theta iota kappa lambda omega"


def _args(mode: str, request: pytest.FixtureRequest) -> list[str]:
    if mode == "in-process":
        return ["chat", SPEC, "--model", "scripted", "--checkpointer", "memory"]
    server: Server = request.getfixturevalue("server")
    return ["chat", "--url", server.url, "--transport", mode]


def _thread_in_banner(screen: str) -> str:
    found = re.search(r"thread ([0-9a-f]{32})", screen)
    assert found, screen
    return found.group(1)


def _state_tables(t: Term) -> int:
    """How many `/state` tables the chat has printed so far (from the raw output, not the screen)."""
    return "".join(t.log).count("state of thread")


def _turns(screen: str) -> int:
    found = re.findall(r"│ turns\s+│ (\d+)", screen)
    assert found, screen
    return int(found[-1])


@pytest.mark.parametrize("mode", MODES)
def test_streams_keeps_the_thread_cancels_and_quits(mode: str, request: pytest.FixtureRequest,
                                                     term: Callable[..., Term]) -> None:
    t = term(*_args(mode, request))
    thread = _thread_in_banner(t.wait_prompt(1))

    # tokens arrive before the reply ends: part of the reply is on screen, the timing line is not
    t.type_line(LONG)
    mid = t.wait_for("You said: tell")
    assert "first token" not in mid
    assert mid.count("omega") == 1, "only the typed line should hold the last word yet:\n" + mid
    done = t.wait_for("first token")
    assert re.search(r"first token \d+ ms · total [\d.]+ (ms|s)", done), done
    assert done.count("omega") == 2
    assert "count_turn → understand → qualify → ask_company" in done

    # a second turn stays on the thread
    t.type_line("second message")
    t.wait_for(lambda s: "You said: second message" in s and s.count("first token") >= 1
               and s.rstrip().endswith("you ›"))
    t.type_line("/state")
    screen = t.wait_for(lambda s: "meeting_booked" in s and s.rstrip().endswith("you ›"))
    assert f"state of thread {thread}" in screen
    assert _turns(screen) == 2

    # Ctrl-C cancels the reply in progress and the chat goes on
    t.type_line(LONG.replace("tell me about", "stop"))
    t.wait_for("You said: stop")
    t.child.sendintr()
    screen = t.wait_for("cancelled")
    assert screen.count("omega") == 1, "the cancelled reply must not have finished:\n" + screen
    t.wait_for(lambda s: s.rstrip().endswith("you ›"))
    t.type_line("after the cancel")
    t.wait_for(lambda s: "You said: after" in s and "first token" in s.split("You said: after")[-1])
    tables = _state_tables(t)
    t.type_line("/state")
    # wait for a NEW table: the previous one may still be on screen before the command is even echoed
    screen = t.wait_for(lambda s: _state_tables(t) > tables and s.rstrip().endswith("you ›"))
    assert _turns(screen) == 3, "the cancelled turn must leave the thread as it was"

    t.type_line("/quit")
    assert t.exit_code() == 0
    assert "Traceback" not in "".join(t.log)


def test_ctrl_d_leaves_with_exit_0(term: Callable[..., Term]) -> None:
    t = term("chat", SPEC, "--model", "scripted", "--checkpointer", "memory")
    t.wait_prompt(1)
    t.child.sendeof()
    assert t.exit_code() == 0


@pytest.mark.parametrize("mode", MODES)
def test_slash_commands(mode: str, request: pytest.FixtureRequest, term: Callable[..., Term]) -> None:
    t = term(*_args(mode, request))
    thread = _thread_in_banner(t.wait_prompt(1))
    t.command("/help", "/thread ID")
    if mode == "in-process":
        t.command("/graph", "closing --> end_")
    else:
        t.command("/graph", "does not publish its graph")
    t.command("/state", "no state yet")
    screen = t.command("/new", "new thread ")
    fresh = re.findall(r"new thread ([0-9a-f]{32})", screen)[-1]
    assert fresh != thread
    t.command("/thread " + thread, f"switched to thread {thread}")
    t.command("/nonsense", "unknown command")
    t.type_line("/quit")
    assert t.exit_code() == 0


@pytest.mark.parametrize("transport", ["sse", "ws"])
def test_server_down_gives_a_message_and_a_hint(transport: str, term: Callable[..., Term]) -> None:
    from chat_harness import free_port

    t = term("chat", "--url", f"http://127.0.0.1:{free_port()}", "--transport", transport)
    screen = t.wait_for("hint:")
    assert "cannot reach the agent server" in screen
    assert t.exit_code() == 4
    assert "Traceback" not in "".join(t.log)


@pytest.mark.parametrize("transport", ["sse", "ws"])
def test_a_dropped_connection_keeps_the_chat_usable(transport: str, tmp_path_factory: pytest.TempPathFactory,
                                                    term: Callable[..., Term]) -> None:
    server = start_server(tmp_path_factory.mktemp("drop"))
    try:
        t = term("chat", "--url", server.url, "--transport", transport)
        t.wait_prompt(1)
        t.type_line(LONG)
        t.wait_for("You said: tell")
        server.proc.kill()  # no graceful shutdown: the connection breaks mid-reply
        server.proc.wait(10)
        screen = t.wait_for("hint:")
        assert "dropped" in screen or "cannot reach" in screen, screen
        t.wait_for(lambda s: s.rstrip().endswith("you ›"))
        t.type_line("/help")
        t.wait_for("/thread ID")
        t.type_line("/quit")
        assert t.exit_code() == 0
        assert "Traceback" not in "".join(t.log)
    finally:
        if server.proc.poll() is None:
            stop_server(server)


def test_an_interrupt_is_asked_inline_and_answered_by_the_next_line(term: Callable[..., Term]) -> None:
    spec = str(Path(SPEC).parent / "onboarding.yaml")
    t = term("chat", spec, "--model", "scripted", "--checkpointer", "memory")
    t.wait_prompt(1)
    screen = t.command("hello", "What's your full name?")
    assert "the next line you type answers this" in screen
    assert screen.rstrip().endswith("answer ›")
    t.command("Ana Lima", "Nice to meet you, Ana Lima")
    t.type_line("/quit")
    assert t.exit_code() == 0


@pytest.mark.parametrize("reader", ["prompt_toolkit", "readline"])
def test_ctrl_c_at_the_prompt_keeps_the_chat(reader: str, term: Callable[..., Term]) -> None:
    env = {"FACTORY_CHAT_INPUT": "readline"} if reader == "readline" else {}
    t = term("chat", SPEC, "--model", "scripted", "--checkpointer", "memory", **env)
    t.wait_prompt(1)
    t.child.send("half a line")
    t.wait_for("half a line")
    t.child.sendintr()
    t.pump(0.3)
    if reader == "readline":  # input() keeps its line; Enter finishes it
        t.type_line("")
    t.command("a whole line", "first token")
    t.type_line("/quit")
    assert t.exit_code() == 0


def test_a_409_right_after_a_cancel_is_retried(fake_server: Server, term: Callable[..., Term]) -> None:
    """After Ctrl-C the server frees the thread a moment later; the fake answers the next two
    messages with 409, which the chat retries (for up to a second) instead of reporting busy."""
    t = term("chat", "--url", fake_server.url, "--thread", "cancel-then-busy")
    t.wait_prompt(1)
    t.type_line("slow")
    t.wait_for("slow slow slow")
    t.child.sendintr()
    t.wait_for("cancelled")
    t.idle()
    t.type_line("right after")
    screen = t.wait_for(lambda s: "ok: right after" in s or "answered 409" in s)
    assert "answered 409" not in screen, screen
    assert "ok: right after" in screen
    t.idle()
    t.type_line("/quit")
    assert t.exit_code() == 0
