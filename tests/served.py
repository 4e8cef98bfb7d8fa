"""Servers a test starts as processes (`factory serve`, `python -m graphs.server`, fakes): the one
wait until `GET /ready` answers, with what to say when it never does."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

__all__ = ["wait_ready"]


def wait_ready(url: str, proc: subprocess.Popen[Any], *, timeout: float = 60, what: str = "the server",
               log: Path | None = None) -> None:
    """Poll `{url}/ready` until it answers 200. When `proc` exits first or `timeout` passes, kill it
    and raise `AssertionError` naming `what` (with the tail of `log`, when given)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            problem = f"{what} exited with {proc.returncode}"
            break
        if time.monotonic() > deadline:
            problem = f"{what} did not become ready within {timeout:.0f} s"
            break
        time.sleep(0.1)
    proc.kill()
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"{problem}\n{tail}".rstrip())
