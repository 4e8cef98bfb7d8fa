"""Reading what the user types: prompt_toolkit when installed, else `readline`, else plain lines.

Every reader is awaited from the chat's one event loop, so a WebSocket keeps answering pings while
the user thinks. `read()` returns a line, raises `EOFError` on Ctrl-D / end of input, and
`KeyboardInterrupt` when Ctrl-C is pressed at the prompt (the chat clears the line and goes on).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

__all__ = ["LineReader", "PipeReader", "make_terminal_reader"]


class LineReader(Protocol):
    interactive: bool
    """True when a person types (Ctrl-C at the prompt is theirs to handle)."""

    async def read(self, prompt: str) -> str:
        """One line without its newline; `EOFError` at the end, `KeyboardInterrupt` on Ctrl-C."""
        ...

    def interrupt(self) -> None:
        """SIGINT arrived while waiting for a line (readers that own the terminal never see this)."""


def _in_thread(func: Callable[[], str]) -> asyncio.Future[str]:
    """Run a blocking read in a daemon thread so exiting never waits for the user to press Enter."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def settle(value: str | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value or "")

    def work() -> None:
        try:
            value = func()
        except BaseException as exc:  # EOFError and friends travel back to the loop
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, value, None)

    threading.Thread(target=work, name="factory-chat-input", daemon=True).start()
    return future


class PipeReader:
    """stdin that is not a terminal: one message per line, no prompt."""

    interactive = False

    def __init__(self) -> None:
        self._pending: asyncio.Future[str] | None = None

    async def read(self, prompt: str) -> str:
        def line() -> str:
            text = sys.stdin.readline()
            if not text:
                raise EOFError
            return text.rstrip("\r\n")

        self._pending = _in_thread(line)
        try:
            return await self._pending
        finally:
            self._pending = None

    def interrupt(self) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.set_exception(KeyboardInterrupt())


class _ReadlineReader:
    """`input()` with GNU readline's editing and a history file."""

    interactive = True

    def __init__(self, history: Path | None) -> None:
        self._history = history
        self._pending: asyncio.Future[str] | None = None
        try:
            import readline
        except ImportError:  # Windows without pyreadline: plain input() still works
            return
        if history is not None:
            try:
                history.parent.mkdir(parents=True, exist_ok=True)
                if history.exists():
                    readline.read_history_file(history)
            except OSError:
                self._history = None

    def _save(self) -> None:
        if self._history is None:
            return
        try:
            import readline

            readline.write_history_file(self._history)
        except (ImportError, OSError):
            pass

    async def read(self, prompt: str) -> str:
        self._pending = _in_thread(lambda: input(prompt))
        try:
            line = await self._pending
        finally:
            self._pending = None
        self._save()
        return line

    def interrupt(self) -> None:
        """The thread stays in `input()`; the line it returns next is still used."""
        sys.stdout.write("\n(Ctrl-D or /quit leaves the chat)\n")
        sys.stdout.flush()


class _PromptToolkitReader:
    """prompt_toolkit: editing, history, and Ctrl-C/Ctrl-D as keys while the prompt is up."""

    interactive = True

    def __init__(self, history: Path | None) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory, InMemoryHistory

        store: FileHistory | InMemoryHistory = InMemoryHistory()
        if history is not None:
            try:
                history.parent.mkdir(parents=True, exist_ok=True)
                store = FileHistory(str(history))
            except OSError:
                pass
        self._session: PromptSession[str] = PromptSession(history=store)

    async def read(self, prompt: str) -> str:
        from prompt_toolkit.formatted_text import ANSI

        return await self._session.prompt_async(ANSI(prompt))

    def interrupt(self) -> None:
        """prompt_toolkit reads Ctrl-C as a key; a stray SIGINT between prompts changes nothing."""


def make_terminal_reader(history: Path | None) -> LineReader:
    """prompt_toolkit if it is installed, else readline (`FACTORY_CHAT_INPUT=readline` forces it)."""
    if os.environ.get("FACTORY_CHAT_INPUT") == "readline":
        return _ReadlineReader(history)
    try:
        return _PromptToolkitReader(history)
    except ImportError:
        return _ReadlineReader(history)
