"""`factory run SPEC "message"`: one turn in-process, the reply streamed to the terminal."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from factory.cli._common import ModelOption, SpecArg, checkpointer_url, load_plan
from factory.cli._output import err_console, out_console
from factory.errors import ExitCode, UserError
from graphs.plan import Plan


async def _run(plan: Plan, base_dir: str, message: str, thread: str | None, model: str | None,
               checkpointer: str, as_json: bool) -> int:
    from graphs.agent import Agent
    from graphs.events import EndEvent, ErrorEvent, MetadataEvent, TokenEvent, ToolEvent
    from graphs.models import ModelConfigError

    try:
        async with Agent.open(plan, checkpointer=checkpointer, base_dir=base_dir, model_override=model) as agent:
            async for event in agent.turn(message, thread_id=thread):
                if as_json:
                    out_console.print(json.dumps(event.as_dict(), default=str), markup=False)
                elif isinstance(event, TokenEvent):
                    out_console.print(event.text, end="", markup=False)
                elif isinstance(event, ToolEvent):
                    err_console.print(f"[dim]tool {event.name}({json.dumps(event.args)})[/]")
                elif isinstance(event, ErrorEvent):
                    err_console.print(f"\n[red]error[/] {event.code}: {event.message}")
                    return ExitCode.BUILD_FAILED  # the turn failed in the engine (model, tool, node)
                elif isinstance(event, EndEvent):
                    out_console.print()
                    err_console.print(f"[dim]thread {thread or '-'} | path {' > '.join(event.path)} | "
                                      f"first token {event.first_token_ms} ms | total {event.total_ms} ms[/]")
                elif isinstance(event, MetadataEvent):
                    thread = event.thread_id
    except ModelConfigError as exc:
        raise UserError(str(exc), hint="run offline with `--model scripted`") from None
    return ExitCode.OK


def run(
    spec: SpecArg,
    message: Annotated[str, typer.Argument(help="What the user says.", show_default=False)],
    thread: Annotated[str | None, typer.Option("--thread", help="Continue this thread id.")] = None,
    model: ModelOption = None,
    checkpointer: Annotated[str | None, typer.Option(
        "--checkpointer", help="Override the spec's checkpointer (memory, sqlite:///file, postgres://...).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every event as a JSON line.")] = False,
) -> None:
    """Run one turn of SPEC in-process and stream the reply."""
    loaded, plan = load_plan(spec)
    url = checkpointer_url(loaded, checkpointer)
    code = asyncio.run(_run(plan, str(loaded.folder), message, thread, model, url, as_json))
    raise typer.Exit(code)
