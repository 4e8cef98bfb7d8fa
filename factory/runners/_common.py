"""What both runners share: the `Runner` handle, free ports, waiting for `/ready`, a log buffer."""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import httpx

from factory.errors import ExitCode, UserError

__all__ = ["LogBuffer", "Runner", "free_port", "wait_ready"]


class LogBuffer:
    """Lines from a process or container, kept in memory (bounded) and optionally echoed."""

    def __init__(self, *, on_line: Callable[[str], None] | None = None, max_lines: int = 5000) -> None:
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._lock = threading.Lock()
        self._on_line = on_line
        self._thread: threading.Thread | None = None

    def add(self, line: str) -> None:
        line = line.rstrip("\r\n")
        with self._lock:
            self._lines.append(line)
        if self._on_line:
            self._on_line(line)

    def text(self) -> str:
        with self._lock:
            return "\n".join(self._lines) + ("\n" if self._lines else "")

    def tail(self, n: int = 30) -> list[str]:
        with self._lock:
            return list(self._lines)[-n:]

    def follow(self, source: Iterable[bytes | str]) -> None:
        """Read `source` on a daemon thread until it ends."""

        def pump() -> None:
            pending = ""
            try:
                for chunk in source:
                    pending += chunk.decode(errors="replace") if isinstance(chunk, bytes) else chunk
                    *lines, pending = pending.split("\n")
                    for line in lines:
                        self.add(line)
            except Exception:  # noqa: BLE001 - the source closes when the process or container goes
                pass
            if pending:
                self.add(pending)

        self._thread = threading.Thread(target=pump, name="runner-logs", daemon=True)
        self._thread.start()

    def join(self, timeout: float = 2.0) -> None:
        if self._thread:
            self._thread.join(timeout)


@dataclass
class Runner:
    """A running agent: where to reach it, what runs it, and what it printed so far."""

    kind: Literal["docker", "local"]
    base_url: str
    name: str
    """The agent's name (the spec's `name`)."""
    detail: str = ""
    """The container id or the process id, for messages."""
    _logs: LogBuffer = field(default_factory=LogBuffer, repr=False)

    def logs(self) -> str:
        """Everything the server printed so far (stdout and stderr, interleaved)."""
        return self._logs.text()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_ready(
    base_url: str, *, alive: Callable[[], bool], logs: LogBuffer, timeout: float, what: str
) -> None:
    """Poll `GET /ready` until it answers 200; a `UserError` (exit 4) if the server dies or is late."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not alive():
                raise UserError(
                    f"the agent ({what}) stopped before it was ready",
                    exit_code=ExitCode.BUILD_FAILED,
                    details=["server log (tail):", *logs.tail()],
                )
            try:
                response = client.get(f"{base_url}/ready")
                if response.status_code == 200:
                    return
                last = f"/ready answered {response.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.2)
    raise UserError(
        f"the agent ({what}) was not ready after {timeout:.0f} s ({last})",
        exit_code=ExitCode.BUILD_FAILED,
        details=["server log (tail):", *logs.tail()],
    )
