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
    from graphs.server.preflight import StartupError, bind, check_agent, check_broker, check_checkpointer

    state = app.state.factory
    base_dir = Path(spec).resolve().parent
    try:
        check_checkpointer(state.checkpointer_url, base_dir)
        check_broker(state.broker_url)
        check_agent(state.plan, base_dir, model_override=model or model_override_from_env())
        return bind(host, port)
    except StartupError as exc:
        raise UserError(exc.message, hint=exc.hint,
                        exit_code=ExitCode.USAGE if exc.usage else ExitCode.BUILD_FAILED) from None


def reload_app() -> Any:
    """The uvicorn factory used by `--reload`: rebuilt from the spec on every reload."""
    return _build(Path(os.environ[SPEC_ENV]), json.loads(os.environ.get(OPTIONS_ENV, "{}")))


def worker_app(spec: str, options: dict[str, Any]) -> Any:
    """What each `--workers` process serves (`graphs.server.runner.AppRecipe`)."""
    return _build(Path(spec), options)


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
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, max=64,
                     help="Server processes sharing the port and the checkpointer (default: $FACTORY_WORKERS, "
                          "else the spec's serve.workers)."),
    ] = None,
) -> None:
    """Serve SPEC over HTTP: the Agent Server API, LangServe routes and playground, /chat/stream, /ws/chat,
    /v1/chat/completions, /mcp, /a2a and /metrics; SIGTERM drains running turns."""
    from graphs.server import AuthConfigError
    from graphs.server.preflight import url_of

    options = {"model": model, "test_mode": test_mode, "checkpointer": checkpointer}
    try:
        app = _build(spec, options)  # validates the spec (exit 3) and the settings before binding
    except (AuthConfigError, ValueError) as exc:  # ValueError: $FACTORY_BROKER or a limit variable
        raise UserError(str(exc)) from None
    sock = _preflight(app, spec, host, port, model)
    url = url_of(sock)
    path = next(
        (r.path.removesuffix("/invoke") for r in app.routes if getattr(r, "path", "").endswith("/chat/invoke")),
        "",
    )
    err_console.print(f"[bold]{app.title}[/] on {url}  playground {url}{path}/playground/  "
                      f"test page {url}/test/streaming", soft_wrap=True)
    count = _workers(app, workers)
    if reload:
        _run_reloading(spec, options, host, sock, app.state.factory.limits)
    elif count > 1:
        _run_workers(app, spec, options, sock, count)
    else:
        _run(app, sock)


def _workers(app: Any, flag: int | None) -> int:
    """How many processes; several need a checkpointer every process reads (not `memory`)."""
    from graphs.server.runner import choose_workers

    state = app.state.factory
    try:
        return choose_workers(flag, state.serve["workers"], checkpointer_url=state.checkpointer_url)
    except ValueError as exc:
        raise UserError(str(exc), hint="--workers wins over $FACTORY_WORKERS and serve.workers") from None


def _run_workers(app: Any, spec: Path, options: dict[str, Any], sock: socket.socket, count: int) -> None:
    from graphs.server.runner import AppRecipe, run_workers

    state = app.state.factory
    recipe = AppRecipe("factory.cli.serve:worker_app", {"spec": str(spec.resolve()), "options": options})
    err_console.print(f"{count} workers")
    code = run_workers(recipe, sock, workers=count, grace_s=float(state.serve["grace_s"]),
                       uvicorn_options=state.limits.uvicorn_options())
    if code:
        raise UserError("a worker did not start (see the log above)", hint="check the checkpointer URL and "
                        "the spec's tools", exit_code=ExitCode.BUILD_FAILED)


def _run(app: Any, sock: socket.socket) -> None:
    from graphs.server.runner import run_server

    if not run_server(app, sock, **app.state.factory.limits.uvicorn_options()):
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
