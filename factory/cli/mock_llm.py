"""`factory mock-llm`: an OpenAI-compatible fake model server for offline runs and CI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def mock_llm(
    script: Annotated[
        Path | None, typer.Option("--script", help="YAML/JSON script of replies, delays, faults.")] = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="0 picks a free port.")] = 8900,
) -> None:
    """Serve a fake OpenAI-compatible model (streaming, tool calls, scripted replies, failures)."""
    from factory.mockllm import mock_llm_command

    mock_llm_command(script, host, port)


def register(app: typer.Typer) -> None:
    app.command("mock-llm")(mock_llm)
