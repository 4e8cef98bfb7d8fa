"""`factory build SPEC`: write `generated/<name>/` and build its Docker image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from factory.cli._common import SpecArg, load_plan
from factory.cli._output import err_console, out_console
from factory.errors import ExitCode

__all__ = ["build", "register"]


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def build(
    spec: SpecArg,
    tag: Annotated[
        str | None, typer.Option("--tag", "-t", help="Image tag (default `<name>:latest`).")
    ] = None,
    base_image: Annotated[
        str, typer.Option("--base-image", envvar="FACTORY_BASE_IMAGE", help="Base image with Python 3.11.")
    ] = "python:3.11-slim",
    no_docker: Annotated[
        bool, typer.Option("--no-docker", help="Write the context only; build nothing.")
    ] = False,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder that receives `<name>/`.")] = Path(
        "generated"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Write the build context (Dockerfile, plan, pinned requirements, compose, k8s) and build the image."""
    from factory.build import build_image, write_context

    loaded, plan = load_plan(spec)
    context = write_context(loaded, plan, output, tag=tag, base_image=base_image)
    result: dict[str, object] = {"context": str(context.path), "files": sorted(context.files)}
    if not as_json:
        out_console.print(f"[green]wrote[/] {context.path}/ ({len(context.files)} files)")
    if no_docker:
        if as_json:
            out_console.print_json(json.dumps(result))
        raise typer.Exit(ExitCode.OK)
    built = build_image(context, tag=context.tag, base_image=base_image, console=err_console)
    result.update(
        {
            "tag": built.tag,
            "image_id": built.image_id,
            "size": built.size,
            "base_size": built.base_size,
            "seconds": round(built.seconds, 2),
            "steps": built.steps,
            "cached_steps": built.cached_steps,
        }
    )
    if as_json:
        out_console.print_json(json.dumps(result))
    else:
        over = f", {_mb(built.size_over_base)} over {base_image}" if built.size_over_base is not None else ""
        out_console.print(
            f"[green]built[/] {built.tag} ({built.image_id[7:19]}) in {built.seconds:.1f} s: "
            f"{_mb(built.size)}{over}; {built.cached_steps} of {built.steps} steps cached"
        )
        out_console.print(f"run it: docker run --rm -p 8000:8000 {built.tag}")
    raise typer.Exit(ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add `build` to the `factory` app (called by factory/cli/__init__.py)."""
    app.command()(build)
