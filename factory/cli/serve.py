"""`factory serve SPEC`: validate, compile and serve one agent (LangServe, SSE, WebSocket, OpenAI API)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from factory.cli._common import ModelOption, SpecArg, checkpointer_url, load_plan
from factory.cli._output import err_console
from factory.errors import ExitCode, UserError

__all__ = ["register", "serve"]

# `--reload` runs uvicorn with an import string; the factory below reads these.
SPEC_ENV = "FACTORY_SERVE_SPEC"
OPTIONS_ENV = "FACTORY_SERVE_OPTIONS"


def _build(spec: Path, options: dict[str, Any]) -> Any:
    from graphs.server import create_app

    loaded, plan = load_plan(spec)
    return create_app(
        plan,
        base_dir=loaded.folder,
        checkpointer=checkpointer_url(loaded, options.get("checkpointer")),
        model_override=options.get("model"),
        test_mode=bool(options.get("test_mode")),
    )


def _preflight(url: str, base_dir: Path, host: str, port: int) -> None:
    from graphs.server.preflight import StartupError, check_checkpointer, check_port

    try:
        check_checkpointer(url, base_dir)
        check_port(host, port)
    except StartupError as exc:
        raise UserError(exc.message, hint=exc.hint,
                        exit_code=ExitCode.USAGE if exc.usage else ExitCode.BUILD_FAILED) from None


def reload_app() -> Any:
    """The uvicorn factory used by `--reload`: rebuilt from the spec on every reload."""
    return _build(Path(os.environ[SPEC_ENV]), json.loads(os.environ.get(OPTIONS_ENV, "{}")))


def serve(
    spec: SpecArg,
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    reload: Annotated[bool, typer.Option("--reload", help="Restart when the spec or its files change.")] = False,
    model: ModelOption = None,
    test_mode: Annotated[
        bool,
        typer.Option(
            "--test-mode",
            envvar="FACTORY_TEST_MODE",
            help="Accept `script`/`mocks` in requests (tests only).",
        ),
    ] = False,
    checkpointer: Annotated[
        str | None,
        typer.Option(
            "--checkpointer",
            help="Override the spec's checkpointer (memory, sqlite:///file, postgres://...).",
        ),
    ] = None,
) -> None:
    """Serve SPEC over HTTP: LangServe routes and playground, /chat/stream, /ws/chat, /v1/chat/completions."""
    import uvicorn

    from graphs.models import ModelConfigError
    from graphs.server.auth import AuthConfigError

    options = {"model": model, "test_mode": test_mode, "checkpointer": checkpointer}
    try:
        app = _build(spec, options)  # validates the spec (exit 3) and the settings before binding
    except ModelConfigError as exc:
        raise UserError(str(exc), hint="run offline with `--model scripted`") from None
    except AuthConfigError as exc:
        raise UserError(str(exc)) from None
    _preflight(app.state.factory.checkpointer_url, Path(spec).resolve().parent, host, port)
    limits = app.state.factory.limits
    name = app.title
    path = next(
        (r.path.removesuffix("/invoke") for r in app.routes if getattr(r, "path", "").endswith("/chat/invoke")),
        "",
    )
    err_console.print(
        f"[bold]{name}[/] on http://{host}:{port}  playground http://{host}:{port}{path}/playground/  "
        f"test page http://{host}:{port}/test/streaming"
    )
    if not reload:
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **limits.uvicorn_options()))
        server.run()
        if not server.started:
            raise UserError(
                "the server did not start (see the log above)",
                hint="check the checkpointer URL, the port and the spec's tools",
                exit_code=ExitCode.BUILD_FAILED,
            )
        return
    os.environ[SPEC_ENV] = str(spec.resolve())
    os.environ[OPTIONS_ENV] = json.dumps(options)
    folder = str(spec.resolve().parent)
    uvicorn.run(
        "factory.cli.serve:reload_app",
        factory=True,
        host=host,
        port=port,
        reload=True,
        reload_dirs=[folder],
        reload_includes=["*.yaml", "*.yml", "*.md", "*.py"],
        **limits.uvicorn_options(),
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
