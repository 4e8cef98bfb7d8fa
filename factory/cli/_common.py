"""Options and steps several verbs share: loading a spec into a plan, the model override."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from factory.language.loader import LoadedSpec, load_spec

__all__ = ["ModelOption", "SpecArg", "checkpointer_url", "data_dir", "load_plan"]

SpecArg = Annotated[Path, typer.Argument(help="The spec file.", show_default=False)]


def _model_option(value: str | None) -> str | None:
    """`--model local`: check the extra and start (or reuse) the local model server before anything runs."""
    if value == "local":
        from factory.cli._output import err_console
        from factory.cli.local_llm import require_local_model
        from factory.errors import ExitCode, UserError
        from graphs.models import ModelConfigError
        from graphs.models.local import ensure_local_server

        model = require_local_model()
        try:
            server = ensure_local_server(model)
        except ModelConfigError as exc:
            raise UserError(str(exc), hint="`factory local-llm` in the foreground shows why",
                            exit_code=ExitCode.BUILD_FAILED) from None
        err_console.print(f"[dim]local model: {'reusing' if server.reused else 'started'} {server.base_url} "
                          f"({Path(server.model).name})[/]")
    return value


ModelOption = Annotated[
    str | None,
    typer.Option("--model", envvar="FACTORY_MODEL", callback=_model_option,
                 help="Replace every model: `scripted` (offline), `local` (the local llama.cpp model, started "
                      "or reused: `factory local-llm`) or `openai:MODEL`."),
]


def data_dir() -> Path:
    """Where relative SQLite checkpointers live: `FACTORY_DATA_DIR`, default `.factory/` here."""
    return Path(os.environ.get("FACTORY_DATA_DIR", ".factory"))


def checkpointer_url(loaded: LoadedSpec, flag: str | None) -> str:
    """The checkpointer of `run`, `chat` and `serve` (see `graphs.checkpointers` for the precedence);
    relative SQLite files live in `.factory/<agent name>/` here unless `FACTORY_DATA_DIR` is set."""
    from graphs.checkpointers import choose_checkpointer_url

    try:
        return choose_checkpointer_url(flag=flag, spec=loaded.spec.serve.checkpointer, agent=loaded.spec.name,
                                       default_root=Path(".factory") / loaded.spec.name)
    except ValueError as exc:
        from factory.errors import UserError

        raise UserError(str(exc), hint="pass --checkpointer memory, or set $FACTORY_CHECKPOINTER") from None


def load_plan(path: Path) -> tuple[LoadedSpec, Any]:
    """Validate and compile; raises `SpecError` (exit 3) on any problem."""
    from factory.compiler import compile_plan

    loaded = load_spec(path)
    return loaded, compile_plan(loaded)
