"""The chat loop: read a line, run a slash command or send it as a turn, render the events.

The loop owns the thread id and Ctrl-C; the client (`factory.client`) owns the wire; the renderer
owns the screen. Ctrl-C while a reply streams cancels the task iterating the client's turn (and
then asks the client to stop the run on its side); Ctrl-C at the prompt clears the line; Ctrl-D or
`/quit` leaves with exit code 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from factory.chat._input import LineReader
from factory.chat._render import Outcome, Renderer
from factory.client import Client, ClientError
from factory.errors import ExitCode
from graphs.events import THREAD_ID_RULE, EndEvent, ErrorEvent, MetadataEvent, StateEvent, valid_thread_id

__all__ = ["HELP", "ChatSession", "new_thread_id"]

HELP = """\
/help          this list
/new           start a new thread
/thread ID     switch to thread ID (continue an earlier conversation)
/state         the thread's slots
/graph         the agent's graph as Mermaid text
/quit          leave (Ctrl-D too)
Anything else is sent to the agent. When the agent asked a question (an interrupt),
the next line you type answers it. Ctrl-C cancels the reply in progress."""


def new_thread_id() -> str:
    return uuid.uuid4().hex


class ChatSession:
    """One chat: a client, a renderer, a reader, the current thread.

    Attributes:
        thread_id: the thread every message goes to; `/new` and `/thread` change it.
        last_state: the slots of the last `state` event per thread (what `/state` shows when the
            client cannot ask the agent).
        failed_turns: turns that ended in an error (a piped chat exits 1 when there were any).
    """

    def __init__(self, connect: AbstractAsyncContextManager[Client], renderer: Renderer, reader: LineReader, *,
                 thread_id: str | None = None) -> None:
        """`connect` is entered when the chat starts (an `InProcessClient`, or `factory.client.Remote`)."""
        self.connect, self.renderer, self.reader = connect, renderer, reader
        self.client: Client | None = None
        self.thread_id = thread_id or new_thread_id()
        self.last_state: dict[str, dict[str, Any]] = {}
        self.answering = False
        self.failed_turns = 0
        self._task: asyncio.Task[None] | None = None
        self._commands: dict[str, Callable[[str], Awaitable[bool]]] = {
            "/help": self._help, "/new": self._new, "/thread": self._thread, "/state": self._state,
            "/graph": self._graph, "/quit": self._quit, "/exit": self._quit,
        }

    # ------------------------------------------------------------------ the loop

    async def run(self) -> int:
        """Connect, chat until the end of input or `/quit`; returns the exit code."""
        try:
            self.client = await self.connect.__aenter__()
        except ClientError as exc:
            self.renderer.problem(exc)
            return ExitCode.USAGE if exc.kind in ("auth", "config") else ExitCode.BUILD_FAILED
        try:
            self.renderer.banner(agent=self.client.agent, transport=self.client.label, thread=self.thread_id)
            return await self._loop()
        finally:
            with contextlib.suppress(Exception):
                await self.connect.__aexit__(None, None, None)

    def _client(self) -> Client:
        assert self.client is not None, "run() connects first"
        return self.client

    async def _loop(self) -> int:
        while True:
            self._watch_sigint()
            try:
                line = await self.reader.read(self.renderer.prompt(answering=self.answering))
            except EOFError:
                return self._exit_code()
            except KeyboardInterrupt:
                if not self.reader.interactive:
                    return 130
                continue
            text = line.strip()
            if not text:
                continue
            try:
                keep_going = await self._command(text) if text.startswith("/") else await self.send(text)
            except ClientError as exc:
                self.renderer.problem(exc)
                if exc.fatal:
                    return ExitCode.USAGE
                keep_going = True
            if not keep_going:
                return self._exit_code()

    def _exit_code(self) -> int:
        """0, or 1 for a piped chat in which a turn failed (scripts can tell)."""
        return ExitCode.TESTS_FAILED if self.failed_turns and not self.reader.interactive else ExitCode.OK

    def _watch_sigint(self) -> None:
        """(Re)install our SIGINT handler: prompt_toolkit removes loop handlers when its prompt ends."""
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._on_sigint)

    def _on_sigint(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        else:
            self.reader.interrupt()

    # ------------------------------------------------------------------ a turn

    async def send(self, text: str) -> bool:
        """Send one message as a turn on the current thread; True to keep chatting."""
        self._watch_sigint()
        view = self.renderer.turn()
        outcome: Outcome = "failed"
        task = self._task = asyncio.create_task(self._consume(text, view))
        try:
            await asyncio.wait({task})
            self._task = None
            if task.cancelled():
                outcome = "cancelled"
                await self._client().cancel()
            elif task.exception() is None:
                outcome = "done"
        finally:
            view.close(outcome)
        if outcome == "failed":
            self.failed_turns += 1
            error = task.exception()
            if error is not None and not isinstance(error, _TurnFailed):
                raise error
        return True

    async def _consume(self, text: str, view: Any) -> None:
        errored = False
        async for event in self._client().turn(text, thread_id=self.thread_id):
            if isinstance(event, MetadataEvent):
                self.thread_id = event.thread_id  # a server may canonicalise the id
            elif isinstance(event, StateEvent):
                self.last_state[self.thread_id] = dict(event.values)
            elif isinstance(event, EndEvent):
                self.answering = event.interrupted
            elif isinstance(event, ErrorEvent):
                errored = True
            view.event(event)
        if errored:
            raise _TurnFailed()

    # ------------------------------------------------------------------ slash commands

    async def _command(self, text: str) -> bool:
        name, _, arg = text.partition(" ")
        handler = self._commands.get(name.lower())
        if handler is None:
            self.renderer.info(f"unknown command {name!r}; /help lists them")
            return True
        return await handler(arg.strip())

    async def _help(self, arg: str) -> bool:
        self.renderer.verbatim(HELP)
        return True

    async def _new(self, arg: str) -> bool:
        self.thread_id, self.answering = new_thread_id(), False
        self.renderer.info(f"new thread {self.thread_id}")
        return True

    async def _thread(self, arg: str) -> bool:
        if not arg:
            self.renderer.info(f"thread {self.thread_id} (switch with /thread ID)")
            return True
        wanted = arg.split()[0]
        if not valid_thread_id(wanted):
            self.renderer.info(f"cannot switch to {wanted!r}: a thread id is {THREAD_ID_RULE}; "
                               f"still on thread {self.thread_id}")
            return True
        self.thread_id, self.answering = wanted, False
        self.renderer.info(f"switched to thread {self.thread_id}")
        return True

    async def _state(self, arg: str) -> bool:
        state = await self._client().state(self.thread_id)
        if state is None:
            state = self.last_state.get(self.thread_id)
        if not state:
            self.renderer.info(f"no state yet for thread {self.thread_id}; send a message first")
            return True
        self.renderer.slots(state, thread=self.thread_id)
        return True

    async def _graph(self, arg: str) -> bool:
        text = await self._client().graph()
        if text is None:
            self.renderer.info("this server does not publish its graph; run `factory graph SPEC` "
                               "or `factory chat SPEC` with the spec file")
        else:
            self.renderer.verbatim(text)
        return True

    async def _quit(self, arg: str) -> bool:
        return False


class _TurnFailed(Exception):
    """The agent answered with an `error` event (already shown); the turn counts as failed."""
