"""Options and steps several verbs share: loading a spec into a plan, the model override."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from factory.spec.loader import LoadedSpec, load_spec

__all__ = ["ModelOption", "SpecArg", "data_dir", "load_plan"]

SpecArg = Annotated[Path, typer.Argument(help="The spec file.", show_default=False)]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", envvar="FACTORY_MODEL",
                 help="Replace every model: `scripted` (offline) or `openai:MODEL`."),
]


def data_dir() -> Path:
    """Where relative SQLite checkpointers live: `FACTORY_DATA_DIR`, default `.factory/` here."""
    return Path(os.environ.get("FACTORY_DATA_DIR", ".factory"))


def load_plan(path: Path) -> tuple[LoadedSpec, Any]:
    """Validate and compile; raises `SpecError` (exit 3) on any problem."""
    from factory.compiler import compile_plan

    loaded = load_spec(path)
    return loaded, compile_plan(loaded)
