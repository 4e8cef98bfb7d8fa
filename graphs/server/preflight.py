"""Checks made before the server binds, for every way of starting it (`factory serve` and the image's
`python -m graphs.server`): a failure inside uvicorn's start-up would be a traceback and uvicorn's
own exit code, where a user deserves a sentence and a hint."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from graphs.checkpointers import open_checkpointer

__all__ = ["StartupError", "check_checkpointer", "check_port"]

_SCHEMES = ("sqlite:///", "postgres://", "postgresql://")


class StartupError(Exception):
    """The server cannot start as configured; `usage` is True for a bad setting, False for a failure."""

    def __init__(self, message: str, *, hint: str, usage: bool = False) -> None:
        super().__init__(message)
        self.message, self.hint, self.usage = message, hint, usage


def check_checkpointer(url: str, base_dir: Path) -> None:
    """A known scheme, and a saver that opens (the URL's password is never shown)."""
    if url != "memory" and not url.startswith(_SCHEMES):
        scheme = url.split("://")[0] + "://" if "://" in url else url
        raise StartupError(f"unknown checkpointer {scheme!r} (--checkpointer, $FACTORY_CHECKPOINTER or "
                           "serve.checkpointer)", usage=True,
                           hint="use memory, sqlite:///threads.sqlite or postgres://user@host/db")

    async def probe() -> None:
        async with open_checkpointer(url, base_dir=base_dir):
            pass

    try:
        asyncio.run(probe())
    except Exception as exc:
        shown = url.split("@")[-1] if "@" in url else url
        raise StartupError(
            f"cannot open the checkpointer ...{shown}: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}",
            hint="is the database up and the URL right? `--checkpointer sqlite:///threads.sqlite` works offline",
        ) from None


def check_port(host: str, port: int) -> None:
    """Bind once before uvicorn does, so a busy port is a message."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                           hint="another process uses the port? pick another with --port") from None
