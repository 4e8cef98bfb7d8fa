"""What the chat shows: Rich in a terminal, bare text when piped.

A renderer only ever sees the typed events of `graphs.events` and a few UI facts (the thread, a
problem, a table of slots); it never talks to a client.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markdown import Markdown
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from factory.client import ClientError
from graphs.events import ErrorEvent, Event, InterruptEvent, NodeEvent, TokenEvent, ToolEvent

__all__ = ["Outcome", "PlainRenderer", "Renderer", "RichRenderer", "TurnView"]

Outcome = Literal["done", "cancelled", "failed"]

_MARKDOWN = re.compile(r"(\*\*|__|`|^#{1,6} |^\s*[-*+] |^\s*\d+\. |\[[^\]]+\]\([^)]+\)|^> )", re.MULTILINE)


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.2f} s"


@dataclass
class _Clock:
    """Client-side timing: what the person at the keyboard waited."""

    started: float = field(default_factory=time.perf_counter)
    first: float | None = None

    def token(self) -> None:
        if self.first is None:
            self.first = time.perf_counter()

    def first_ms(self) -> float | None:
        return None if self.first is None else (self.first - self.started) * 1000

    def total_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


class TurnView(Protocol):
    def event(self, event: Event) -> None: ...

    def close(self, outcome: Outcome) -> None:
        """The turn is over: finished (`end`), cancelled by Ctrl-C, or failed (error already shown)."""
        ...


class Renderer(Protocol):
    def banner(self, *, agent: str, transport: str, thread: str) -> None: ...

    def turn(self) -> TurnView: ...

    def problem(self, error: ClientError) -> None: ...

    def info(self, text: str) -> None: ...

    def slots(self, state: dict[str, Any], *, thread: str) -> None: ...

    def verbatim(self, text: str) -> None: ...

    def prompt(self, *, answering: bool) -> str: ...


# ---------------------------------------------------------------------------------- terminal


class _RichTurn:
    """One reply in a Rich `Live`: a faint trail of nodes and tools, then the text as it streams."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.clock = _Clock()
        self.trail: list[str] = []
        self.tools: list[str] = []
        self.reply: list[str] = []
        self.notes: list[Text] = []
        self.live = Live(self._view(final=False), console=console, refresh_per_second=20,
                         vertical_overflow="visible", transient=False)
        self.live.start()

    def _view(self, *, final: bool) -> RenderableType:
        parts: list[RenderableType] = []
        if self.trail:
            parts.append(Text("◦ " + " → ".join(self.trail), style="dim"))
        parts.extend(Text(f"⚙ {tool}", style="dim") for tool in self.tools)
        text = "".join(self.reply)
        if final and text and _MARKDOWN.search(text) and text.count("\n") < self.console.height - 4:
            parts.append(Markdown(text))
        elif text:
            parts.append(Text(text))
        elif not final:
            parts.append(Spinner("dots", text=Text("thinking", style="dim"), style="dim"))
        parts.extend(self.notes)
        return Group(*parts)

    def event(self, event: Event) -> None:
        if isinstance(event, TokenEvent):
            self.clock.token()
            self.reply.append(event.text)
        elif isinstance(event, NodeEvent) and event.phase == "start":
            self.trail.append(event.node)
        elif isinstance(event, ToolEvent):
            self.tools.append(f"{event.name}({_short(event.args, 60)}) → {_short(event.result)}")
        elif isinstance(event, InterruptEvent):
            self.notes.append(Text("? the next line you type answers this", style="yellow dim"))
        elif isinstance(event, ErrorEvent):
            note = Text(f"error {event.code}: {event.message}", style="red")
            if event.retryable:
                note.append("\nhint: it may pass on a retry; send the message again", style="green")
            self.notes.append(note)
        else:
            return
        self.live.update(self._view(final=False))

    def close(self, outcome: Outcome) -> None:
        if outcome == "cancelled":
            self.notes.append(Text("⏹ cancelled", style="yellow"))
        self.live.update(self._view(final=outcome == "done"), refresh=True)
        self.live.stop()
        if outcome == "done":
            self.console.print(f"[dim]first token {_ms(self.clock.first_ms())} · "
                               f"total {_ms(self.clock.total_ms())}[/]")


class RichRenderer:
    """A terminal: colours, a live reply, tables."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)

    def banner(self, *, agent: str, transport: str, thread: str) -> None:
        self.console.print(f"[bold]factory chat[/] · [cyan]{agent}[/] · {transport}")
        self.console.print(f"[dim]thread[/] [cyan]{thread}[/]")
        self.console.print("[dim]/help for commands · Ctrl-C cancels a reply · Ctrl-D or /quit leaves[/]")

    def turn(self) -> TurnView:
        return _RichTurn(self.console)

    def problem(self, error: ClientError) -> None:
        self.console.print(Text(error.message, style="bold red"))
        if error.hint:
            self.console.print(Text(f"hint: {error.hint}", style="green"))

    def info(self, text: str) -> None:
        self.console.print(Text(text, style="dim"))

    def slots(self, state: dict[str, Any], *, thread: str) -> None:
        self.console.print(Text(f"state of thread {thread}", style="dim"))
        table = Table(show_lines=False)
        table.add_column("slot", style="cyan", no_wrap=True)
        table.add_column("value", overflow="fold")
        for slot, value in state.items():
            table.add_row(slot, Text(_short(value, 200), style="dim" if value is None else ""))
        self.console.print(table)

    def verbatim(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, end="" if text.endswith("\n") else "\n")

    def prompt(self, *, answering: bool) -> str:
        return "\x1b[1;33manswer ›\x1b[0m " if answering else "\x1b[1;32myou ›\x1b[0m "


# ---------------------------------------------------------------------------------- piped


class _PlainTurn:
    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out, self.err = out, err
        self.wrote = False

    def event(self, event: Event) -> None:
        if isinstance(event, TokenEvent):
            self.out.write(event.text)
            self.out.flush()
            self.wrote = self.wrote or bool(event.text)
        elif isinstance(event, ErrorEvent):
            self.err.write(f"error {event.code}: {event.message}\n")
            self.err.flush()

    def close(self, outcome: Outcome) -> None:
        """A reply ends with a newline; a failed or cancelled turn prints nothing on stdout (but
        ends a partly streamed line)."""
        if outcome == "done" or self.wrote:
            self.out.write("\n")
            self.out.flush()
        if outcome == "cancelled":
            self.err.write("cancelled\n")
            self.err.flush()


class PlainRenderer:
    """A pipe: replies on stdout, one per input line; problems on stderr; nothing decorative."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out, self.err = out or sys.stdout, err or sys.stderr

    def banner(self, *, agent: str, transport: str, thread: str) -> None:
        """Nothing: a pipe gets replies only."""

    def turn(self) -> TurnView:
        return _PlainTurn(self.out, self.err)

    def problem(self, error: ClientError) -> None:
        self.err.write(f"error: {error.message}\n")
        if error.hint:
            self.err.write(f"hint: {error.hint}\n")
        self.err.flush()

    def info(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()

    def slots(self, state: dict[str, Any], *, thread: str) -> None:
        self.out.write(json.dumps(state, ensure_ascii=False, default=str) + "\n")
        self.out.flush()

    def verbatim(self, text: str) -> None:
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    def prompt(self, *, answering: bool) -> str:
        return ""
