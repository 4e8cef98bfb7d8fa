"""`factory serve SPEC`: validate, compile and serve one agent (LangServe, SSE, WebSocket, OpenAI API)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from factory.cli._common import ModelOption, SpecArg, checkpointer_url, load_plan
from factory.cli._output import err_console
from factory.errors import ExitCode, UserError

if TYPE_CHECKING:
    from graphs.server import Limits

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


def _preflight(app: Any, spec: Path, host: str, port: int, model: str | None) -> socket.socket:
    """The checkpointer opens, the agent builds (every model has its key), the port binds: else one
    message and exit 2 (a setting to fix) or 4 (something outside failed), never uvicorn's traceback."""
    from graphs.models import model_override_from_env
    from graphs.server.preflight import StartupError, bind, check_agent, check_checkpointer

    state = app.state.factory
    base_dir = Path(spec).resolve().parent
    try:
        check_checkpointer(state.checkpointer_url, base_dir)
        check_agent(state.plan, base_dir, model_override=model or model_override_from_env())
        return bind(host, port)
    except StartupError as exc:
        raise UserError(exc.message, hint=exc.hint,
                        exit_code=ExitCode.USAGE if exc.usage else ExitCode.BUILD_FAILED) from None


def reload_app() -> Any:
    """The uvicorn factory used by `--reload`: rebuilt from the spec on every reload."""
    return _build(Path(os.environ[SPEC_ENV]), json.loads(os.environ.get(OPTIONS_ENV, "{}")))


def serve(
    spec: SpecArg,
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free port).")] = 8000,
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
    from graphs.server import AuthConfigError
    from graphs.server.preflight import url_of

    options = {"model": model, "test_mode": test_mode, "checkpointer": checkpointer}
    try:
        app = _build(spec, options)  # validates the spec (exit 3) and the settings before binding
    except AuthConfigError as exc:
        raise UserError(str(exc)) from None
    sock = _preflight(app, spec, host, port, model)
    url = url_of(sock)
    path = next(
        (r.path.removesuffix("/invoke") for r in app.routes if getattr(r, "path", "").endswith("/chat/invoke")),
        "",
    )
    err_console.print(f"[bold]{app.title}[/] on {url}  playground {url}{path}/playground/  "
                      f"test page {url}/test/streaming", soft_wrap=True)
    if reload:
        _run_reloading(spec, options, host, sock, app.state.factory.limits)
    else:
        _run(app, sock)


def _run(app: Any, sock: socket.socket) -> None:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, **app.state.factory.limits.uvicorn_options()))
    server.run(sockets=[sock])
    if not server.started:
        raise UserError(
            "the server did not start (see the log above)",
            hint="check the checkpointer URL, the port and the spec's tools",
            exit_code=ExitCode.BUILD_FAILED,
        )


def _run_reloading(spec: Path, options: dict[str, Any], host: str, sock: socket.socket, limits: Limits) -> None:
    """uvicorn's reloader binds in its own supervisor: it gets the port the pre-flight found."""
    import uvicorn

    port = sock.getsockname()[1]
    sock.close()
    os.environ[SPEC_ENV] = str(spec.resolve())
    os.environ[OPTIONS_ENV] = json.dumps(options)
    uvicorn.run(
        "factory.cli.serve:reload_app",
        factory=True,
        host=host,
        port=port,
        reload=True,
        reload_dirs=[str(spec.resolve().parent)],
        reload_includes=["*.yaml", "*.yml", "*.md", "*.py"],
        **limits.uvicorn_options(),
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
