"""`factory chat SPEC` (in-process) and `factory chat --url URL` (a server): a terminal chat."""

from __future__ import annotations

import asyncio
import os
import sys
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from factory.cli._common import ModelOption, data_dir
from factory.errors import UserError

if TYPE_CHECKING:
    from factory.client import Client

__all__ = ["chat", "register"]


def chat(
    spec: Annotated[Path | None, typer.Argument(
        help="The spec file (in-process chat). Leave out with --url.", show_default=False)] = None,
    url: Annotated[str | None, typer.Option(
        "--url", help="Chat with a running server instead: `factory serve`, a built image, or an Agent "
                      "Server such as `langgraph dev`, e.g. http://127.0.0.1:8000.")] = None,
    protocol: Annotated[Literal["auto", "sse", "ws", "agent-server"], typer.Option(
        "--protocol", "--transport",
        help="With --url: `auto` asks the server (GET /ready: a factory server, over SSE; GET /info: an "
             "Agent Server); `sse` (POST /chat/stream), `ws` (/ws/chat/ID) or `agent-server` (threads and "
             "runs, through langgraph-sdk).")] = "auto",
    assistant: Annotated[str | None, typer.Option(
        "--assistant", help="With an Agent Server serving several graphs: which one (graph id or name).")
    ] = None,
    api_key_env: Annotated[str | None, typer.Option(
        "--api-key-env", help="With --url: the variable holding the server's API key.")] = None,
    thread: Annotated[str | None, typer.Option("--thread", help="Continue this thread id.")] = None,
    model: ModelOption = None,
    checkpointer: Annotated[str | None, typer.Option(
        "--checkpointer",
        help="In-process: override the spec's checkpointer (memory, sqlite:///file, postgres://...).",
    )] = None,
) -> None:
    """Chat with an agent: tokens stream as they arrive; /help lists the commands.

    Piped (stdin or stdout not a terminal), every input line is one message and every reply one
    block of plain text on stdout.
    """
    from factory.chat._input import PipeReader, make_terminal_reader
    from factory.chat._render import PlainRenderer, Renderer, RichRenderer
    from factory.chat.ui import ChatSession
    from graphs.events import THREAD_ID_RULE, valid_thread_id

    if (spec is None) == (url is None):
        raise UserError("give either a spec file or --url, not both" if spec else "give a spec file or --url",
                        hint="factory chat specs/agent.yaml --model scripted   or   "
                             "factory chat --url http://127.0.0.1:8000")
    if thread is not None and not valid_thread_id(thread):
        raise UserError(f"--thread {thread!r} is not a thread id: a thread id is {THREAD_ID_RULE}",
                        hint="leave --thread out to start a new thread")
    connect: AbstractAsyncContextManager[Client]
    if url is not None:
        connect = _remote(url, protocol=protocol, assistant=assistant, api_key_env=api_key_env)
    else:
        assert spec is not None
        connect = _in_process(spec, model=model, checkpointer=checkpointer)

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    renderer: Renderer = RichRenderer() if interactive else PlainRenderer()
    reader = make_terminal_reader(data_dir() / "chat_history") if interactive else PipeReader()
    session = ChatSession(connect, renderer, reader, thread_id=thread)
    try:
        code = asyncio.run(session.run())
    except KeyboardInterrupt:
        code = 130
    raise typer.Exit(code)


def _remote(url: str, *, protocol: Literal["auto", "sse", "ws", "agent-server"], assistant: str | None,
            api_key_env: str | None) -> AbstractAsyncContextManager[Client]:
    from factory.client import Remote

    api_key = None
    if api_key_env:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise UserError(f"--api-key-env names {api_key_env}, but that variable is not set",
                            hint=f"export {api_key_env}=... and run the chat again")
    return Remote(url, protocol=protocol, agent=assistant, api_key=api_key, api_key_env=api_key_env)


def _in_process(spec: Path, *, model: str | None, checkpointer: str | None) -> AbstractAsyncContextManager[Client]:
    from factory.cli._common import checkpointer_url, load_plan
    from factory.client import InProcessClient

    loaded, plan = load_plan(spec)
    return InProcessClient(plan, base_dir=loaded.folder, checkpointer=checkpointer_url(loaded, checkpointer),
                           model=model, spec=loaded.spec)


def register(app: typer.Typer) -> None:
    """Add `factory chat` to the CLI (called by `factory.cli`)."""
    app.command()(chat)
