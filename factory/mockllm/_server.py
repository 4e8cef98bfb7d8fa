"""`MockLLMServer`: the fake model as a real HTTP server on a background thread.

openai 3.x sends through httpx2, which in-process transport mocks do not intercept, so tests need a
socket. Binding the socket ourselves (port 0 by default) gives the real port before uvicorn starts,
so parallel test runs never race for a fixed port.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from ._app import MockState, create_app
from ._record import MockEvent, RecordedRequest, Recorder
from ._script import Script, load_script
from ._select import ScriptState

__all__ = ["MockLLMServer", "bind_socket", "url_host"]

ScriptSource = Script | dict[str, Any] | list[Any] | Path | str | None


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket (port 0 picks a free one); uvicorn listens on it."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def url_host(host: str) -> str:
    """The host to put in a URL: wildcard binds are reached through loopback; IPv6 needs brackets."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class MockLLMServer:
    """An OpenAI-compatible fake model; `with MockLLMServer(script) as srv:` then use `srv.base_url`."""

    def __init__(self, script: ScriptSource = None, *, host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning") -> None:
        self.host = host
        self.state = MockState(ScriptState(load_script(script)), Recorder())
        self.app = create_app(state=self.state)
        self._requested_port = port
        self._log_level = log_level
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 10.0) -> MockLLMServer:
        """Start serving; returns once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("MockLLMServer already started")
        self._sock = bind_socket(self.host, self._requested_port)
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level=self._log_level, lifespan="off", access_log=False,
                                timeout_graceful_shutdown=2)
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [self._sock]},
                                        name=f"mock-llm:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive():
                self.stop()
                raise RuntimeError("mock-llm: the server thread exited during startup")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("mock-llm: the server did not start in time")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving: hung replies are released, then uvicorn shuts down."""
        self.state.closing.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> MockLLMServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------ what tests use

    @property
    def url(self) -> str:
        """The server root, e.g. `http://127.0.0.1:54321`."""
        return f"http://{url_host(self.host)}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. `http://127.0.0.1:54321/v1`."""
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every chat-completions request so far, oldest first."""
        return self.state.recorder.requests

    @property
    def events(self) -> list[MockEvent]:
        """Notable events: `hang` (a hung reply began) and every non-`completed` request outcome:
        `disconnected` (client left mid-reply), `cut`, `failed`, `error`, `stopped`."""
        return self.state.recorder.events

    def wait_for_event(self, kind: str, timeout: float = 5.0) -> MockEvent:
        """Block until an event of this kind is recorded (the server notices disconnects asynchronously)."""
        return self.state.recorder.wait_for_event(kind, timeout)

    def set_script(self, script: ScriptSource) -> None:
        """Replace the script live; the new one starts with a fresh queue and `times` counters."""
        self.state.script.replace(load_script(script))

    def reset(self) -> None:
        """Forget recorded requests and events; rewind the queue and `times` counters."""
        self.state.recorder.clear()
        self.state.script.reset()
