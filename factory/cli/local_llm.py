"""`factory local-llm`: the local model (llama.cpp, SmolLM2-135M by default) on the OpenAI wire.

In the foreground by default (Ctrl-C or SIGTERM stops it); `--detach` starts it in the background
(or finds the one already running) and returns; `--stop` stops that one; `--status` says whether
one runs. Whichever way it was started, `--model local` and later calls reuse it (see
`graphs.models.local`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from factory.cli._output import err_console, out_console
from factory.errors import ExitCode, UserError

__all__ = ["local_llm", "register", "require_local_model"]


def require_local_model(model_path: Path | None = None) -> Path:
    """The model file to serve; a missing extra or file is a `UserError` naming the fix (exit 2)."""
    from graphs.models.local import INSTALL_HINT, LocalModelMissing, missing_dependencies, resolve_model_path

    missing = missing_dependencies()
    if missing:
        raise UserError(f"the local model needs {', '.join(missing)}, which is not installed",
                        hint=f"{INSTALL_HINT}   (builds llama.cpp from source: about 5 minutes)")
    try:
        return resolve_model_path(model_path)
    except LocalModelMissing as exc:
        raise UserError(str(exc), hint=f"give --model-path FILE.gguf, or {INSTALL_HINT}") from None


def local_llm(
    model_path: Annotated[Path | None, typer.Option(
        "--model-path", envvar="FACTORY_LOCAL_MODEL_PATH",
        help="A GGUF model file (default: SmolLM2-135M-Instruct from the `local` extra).")] = None,
    port: Annotated[int, typer.Option("--port", help="0 picks a free port.")] = 0,
    detach: Annotated[bool, typer.Option(
        "--detach", help="Start in the background (or reuse the running one), print its URL and return.")] = False,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the server started in the background.")] = False,
    status: Annotated[bool, typer.Option("--status", help="Say whether a server runs, and where.")] = False,
) -> None:
    """Serve a local model over the OpenAI wire on 127.0.0.1 (`--model local` starts or reuses it)."""
    from graphs.models import ModelConfigError
    from graphs.models.local import ensure_local_server, find_local_server, state_file, stop_local_server

    model = require_local_model(model_path)
    if stop:
        stopped = stop_local_server(model)
        out_console.print(f"local-llm: stopped pid {stopped.pid} ({stopped.base_url})" if stopped
                          else "local-llm: none running")
        return
    running = find_local_server(model)
    if status:
        out_console.print(f"local-llm: serving {running.base_url} (pid {running.pid}, model {running.model})"
                          if running else "local-llm: none running")
        raise typer.Exit(ExitCode.OK if running else ExitCode.NOTHING_TO_RUN)
    if detach:
        try:
            server = ensure_local_server(model)
        except ModelConfigError as exc:
            raise UserError(str(exc), hint="run `factory local-llm` in the foreground to see why",
                            exit_code=ExitCode.BUILD_FAILED) from None
        verb = "reusing" if server.reused else "started"
        out_console.print(f"local-llm: {verb} {server.base_url} (pid {server.pid}; `factory local-llm --stop` "
                          "stops it)")
        out_console.print(f"  export OPENAI_BASE_URL={server.base_url} OPENAI_API_KEY=local")
        return
    if running is not None:
        out_console.print(f"local-llm: already serving {running.base_url} (pid {running.pid}); reuse it, or "
                          "`factory local-llm --stop` first")
        return
    _foreground(model, port, state_file(model))


def _foreground(model: Path, port: int, state: Path) -> None:
    from graphs.models._llama_server import serve

    def ready(base_url: str) -> None:
        out_console.print(f"local-llm: serving {base_url} (model {model.name}). Ctrl-C stops.")
        out_console.print(f"  export OPENAI_BASE_URL={base_url} OPENAI_API_KEY=local")
        out_console.print("  or run a spec on it: factory chat SPEC --model local")

    err_console.print(f"[dim]local-llm: loading {model} ...[/]")
    try:
        serve(model, port=port, state=state, on_ready=ready)
    except OSError as exc:
        raise UserError(f"local-llm cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}",
                        hint="pick another --port, or 0 for a free one", exit_code=ExitCode.BUILD_FAILED) from None
    out_console.print("local-llm: stopped")


def register(app: typer.Typer) -> None:
    app.command("local-llm")(local_llm)
