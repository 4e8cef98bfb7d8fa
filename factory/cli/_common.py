"""Options and steps several verbs share: loading a spec into a plan, the model override."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from factory.language.loader import LoadedSpec, load_spec

__all__ = ["ModelOption", "SpecArg", "checkpointer_url", "data_dir", "load_plan"]

SpecArg = Annotated[Path, typer.Argument(help="The spec file.", show_default=False)]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", envvar="FACTORY_MODEL",
                 help="Replace every model: `scripted` (offline) or `openai:MODEL`."),
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
