"""`factory serve SPEC` as a user runs it, on 127.0.0.1, for the Agent Server API tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from served import wait_ready

from factory.runners import free_port

ROOT = Path(__file__).resolve().parents[2]
CHAT_SPEC = Path(__file__).parent / "specs" / "chat.yaml"
ONBOARDING_SPEC = ROOT / "specs" / "onboarding.yaml"
REPLY = "Hello from the mock model, nice to meet you."



@dataclass
class Served:
    """A running `factory serve`: its URL and process."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def sdk(self, **kwargs: Any) -> Any:
        from langgraph_sdk import get_sync_client

        return get_sync_client(url=kwargs.pop("url", self.url), api_key=kwargs.pop("api_key", None), timeout=30,
                               **kwargs)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def factory_serve(spec: Path, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """Start `python -m factory serve SPEC --port P ARGS...` and wait until `/ready` answers 200."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"serve-{port}.log"
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "FACTORY_DATA_DIR": str(data_dir), **(env or {})}
    full_env.pop("FACTORY_CHECKPOINTER", None)
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "factory", "serve", str(spec), "--port", str(port), *args],
                                env=full_env, cwd=data_dir, stdout=out, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", proc, log)
    try:
        wait_ready(served.url, proc, timeout=90, what="factory serve", log=log)
        yield served
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class CuttingProxy:
    """A TCP proxy in front of a server whose `cut()` drops every open connection at once: a
    network failure in the middle of a stream, as a client sees it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._open += [client, upstream]
                self.connections += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self._lock:
            dropped, self._open = self._open, []
        for sock in dropped:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()
