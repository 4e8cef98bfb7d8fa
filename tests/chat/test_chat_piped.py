"""`factory chat` with stdin and stdout piped: one plain reply per input line; clear failures."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from chat_harness import FACTORY, GOOD_KEY, KEYS_ENV, ROOT, SPEC, Server, base_env, free_port

REPLY = "[scripted model: no script for node 'ask_company'] You said: {}"


def _chat(args: list[str], stdin: str, tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FACTORY, "chat", *args], input=stdin, capture_output=True, text=True,
                          env=base_env(tmp, FACTORY_SCRIPTED_TOKEN_DELAY_MS="0", **env), cwd=str(ROOT),
                          timeout=120)


def _remote(request: pytest.FixtureRequest, protocol: str) -> list[str]:
    server: Server = request.getfixturevalue("server")
    return ["--url", server.url, "--protocol", protocol]


@pytest.mark.parametrize("mode", ["in-process", "sse", "ws"])
def test_piped_chat_prints_one_plain_reply_per_line(mode: str, request: pytest.FixtureRequest,
                                                    tmp_path: Path) -> None:
    args = [SPEC, "--model", "scripted", "--checkpointer", "memory"] if mode == "in-process" \
        else _remote(request, mode)
    result = _chat(args, "hi\n\nmore\n/state\n", tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [REPLY.format("hi"), REPLY.format("more")]
    assert '"turns": 2' in lines[2], "the second line continued the first line's thread"
    assert len(lines) == 3
    assert "\x1b" not in result.stdout + result.stderr, "nothing decorative in a pipe"
    assert result.stderr == ""


def test_piped_chat_keeps_a_thread_across_runs(tmp_path: Path) -> None:
    """`--thread` continues a conversation stored by the spec's (SQLite) checkpointer."""
    args = [SPEC, "--model", "scripted", "--thread", "t-42"]
    assert _chat(args, "one\n", tmp_path).returncode == 0
    result = _chat(args, "two\n/state\n", tmp_path)
    assert result.returncode == 0, result.stderr
    assert '"turns": 2' in result.stdout


@pytest.mark.parametrize("transport", ["sse", "ws"])
def test_server_down_is_a_message_with_a_hint(transport: str, tmp_path: Path) -> None:
    result = _chat(["--url", f"http://127.0.0.1:{free_port()}", "--transport", transport], "hi\n", tmp_path)
    assert result.returncode == 4
    assert "cannot reach the agent server" in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("transport", ["sse", "ws"])
def test_a_refused_key_is_a_clear_message(transport: str, keyed_server: Server, tmp_path: Path) -> None:
    args = ["--url", keyed_server.url, "--protocol", transport, "--api-key-env", "MY_KEY"]
    result = _chat(args, "hi\n", tmp_path, MY_KEY="wrong-key")
    assert result.returncode == 2
    assert "error: the server refused the API key (401)" in result.stderr
    assert "hint: check the value of $MY_KEY" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout

    result = _chat(["--url", keyed_server.url, "--protocol", transport], "hi\n", tmp_path)
    assert result.returncode == 2
    assert "error: the server requires an API key (401); pass --api-key-env VAR" in result.stderr
    assert "refused no API key" not in result.stderr


@pytest.mark.parametrize("transport", ["sse", "ws"])
def test_the_right_key_chats(transport: str, keyed_server: Server, tmp_path: Path) -> None:
    args = ["--url", keyed_server.url, "--transport", transport, "--api-key-env", "MY_KEY"]
    result = _chat(args, "hi\n", tmp_path, MY_KEY=GOOD_KEY)
    assert result.returncode == 0, result.stderr
    assert result.stdout == REPLY.format("hi") + "\n"
    assert KEYS_ENV  # the server reads its keys from this variable (see chat_harness.start_server)


@pytest.mark.parametrize("transport", ["sse", "ws"])
def test_a_bad_thread_id_is_caught_before_it_is_sent(transport: str, request: pytest.FixtureRequest,
                                                     tmp_path: Path) -> None:
    """`/thread bad/id` is refused by the chat (which stays on its thread), not sent: over WS it used
    to end the chat as "the server refused no API key (403)"."""
    result = _chat(_remote(request, transport), "/thread bad/id\nhi\n", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "cannot switch to 'bad/id'" in result.stderr
    assert "API key" not in result.stderr
    assert result.stdout == REPLY.format("hi") + "\n"


@pytest.mark.parametrize("mode", ["in-process", "sse", "ws"])
def test_a_bad_thread_option_is_a_usage_error(mode: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    args = [SPEC, "--model", "scripted", "--checkpointer", "memory"] if mode == "in-process" \
        else _remote(request, mode)
    result = _chat([*args, "--thread", "bad id!"], "hi\n", tmp_path)
    assert result.returncode == 2
    assert "--thread 'bad id!' is not a thread id" in result.stderr
    assert "(400)" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("transport", ["sse", "ws"])
def test_a_403_is_not_a_key_problem_and_the_chat_goes_on(transport: str, fake_server: Server,
                                                         tmp_path: Path) -> None:
    """A 403 (e.g. `script` refused outside test mode) shows its status and detail; the failed turn
    prints nothing on stdout; the next thread works; the piped chat exits 1 at the end."""
    args = ["--url", fake_server.url, "--transport", transport, "--thread", "forbidden-1"]
    result = _chat(args, "hi\n/thread ok-1\nhi\n", tmp_path)
    assert result.returncode == 1, result.stderr
    assert "API key" not in result.stderr
    assert "403" in result.stderr
    if transport == "sse":
        assert "the server answered 403: `script` and `mocks` are accepted only in test mode" in result.stderr
    assert result.stdout == "ok: hi\n", "a failed turn prints nothing on stdout"


@pytest.mark.parametrize("thread", ["reject-new-1", "reject-old-1"])
def test_a_websocket_refusing_the_thread_id_is_not_a_key_problem(thread: str, fake_server: Server,
                                                                 tmp_path: Path) -> None:
    """A server that rejects the thread id (an `error` frame `bad_thread_id` and close 1008 "bad
    thread id", or, older, only the close) is reported as such and the chat goes on."""
    args = ["--url", fake_server.url, "--transport", "ws", "--thread", thread]
    result = _chat(args, "hi\n/thread ok-2\nhi\n", tmp_path)
    assert result.returncode == 1, result.stderr
    assert f"the server refused the thread id {thread!r}" in result.stderr
    assert "API key" not in result.stderr
    assert result.stdout == "ok: hi\n"


def test_a_missing_model_key_is_explained_once(tmp_path: Path) -> None:
    result = _chat([SPEC, "--checkpointer", "memory"], "hi\n", tmp_path)
    assert result.returncode == 2
    assert "OPENAI_API_KEY" in result.stderr
    assert result.stderr.count("--model scripted") == 1, result.stderr


@pytest.mark.parametrize(("args", "message"), [
    ([], "give a spec file or --url"),
    ([SPEC, "--url", "http://127.0.0.1:1"], "not both"),
    (["--url", "http://127.0.0.1:1", "--api-key-env", "NOT_SET_ANYWHERE"], "NOT_SET_ANYWHERE"),
])
def test_usage_mistakes(args: list[str], message: str, tmp_path: Path) -> None:
    result = _chat(args, "", tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_protocol_is_found_by_asking_the_server(server: Server, tmp_path: Path) -> None:
    """No --protocol: `GET /ready` answers, so this is a factory server, reached over SSE."""
    result = _chat(["--url", server.url], "hi\n", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == REPLY.format("hi") + "\n"


def test_a_url_that_is_no_agent_server_is_explained(tmp_path: Path) -> None:
    """Something answers, but neither `GET /ready` nor `GET /info`: say so, and how to name the protocol."""
    import http.server
    import threading

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        result = _chat(["--url", f"http://127.0.0.1:{httpd.server_address[1]}"], "hi\n", tmp_path)
    finally:
        httpd.shutdown()
    assert result.returncode == 4
    assert "is neither a factory server nor an Agent Server (GET /ready answered 404, GET /info 404)" in result.stderr
    assert "--protocol sse|ws|agent-server" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("protocol", ["sse", "ws"])
def test_an_event_that_does_not_parse_is_a_protocol_error(protocol: str, fake_server: Server,
                                                          tmp_path: Path) -> None:
    """The fake server answers `garbled` with a `token` event without `text` (WebSocket: the same frame)."""
    args = ["--url", fake_server.url, "--protocol", protocol, "--thread", "garbled-1"]
    result = _chat(args, "garbled\nhi\n", tmp_path)
    assert result.returncode == 1, result.stderr
    assert "the server sent an event that does not parse: a 'token' event with unexpected data" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == "ok: hi\n", "the chat went on"
