"""Runners: start a built agent somewhere and hand back its URL; one interface for every caller.

`factory test --target` and the fix loop call `start_runner(kind, loaded_spec)`; it yields a
`Runner` (`.base_url`, `.kind`, `.logs()`) once `GET /ready` answers, and always stops what it
started, on errors and Ctrl-C too.

- `docker`: builds the image (`factory-run/<name>:latest`), runs it on a free 127.0.0.1 port.
- `local`: runs the image's entrypoint, `python -m graphs.server`, as a subprocess.
- `auto`: docker when an engine answers (`DOCKER_HOST` honoured), else local; it says which.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Literal, assert_never

from rich.console import Console

from factory.build import DEFAULT_BASE_IMAGE, engine_available
from factory.language.loader import LoadedSpec
from factory.runners._common import Runner, free_port
from factory.runners._docker import CONTAINER_LABEL, run_docker
from factory.runners._local import run_local
from graphs.plan import Plan

__all__ = ["CONTAINER_LABEL", "Runner", "RunnerKind", "free_port", "resolve_kind", "start_runner"]

RunnerKind = Literal["auto", "docker", "local"]
BASE_IMAGE_ENV = "FACTORY_BASE_IMAGE"


def resolve_kind(kind: RunnerKind, *, console: Console | None = None) -> Literal["docker", "local"]:
    """`auto` -> `docker` when an engine answers, else `local`; says which on `console`."""
    if kind == "auto":
        chosen: Literal["docker", "local"] = "docker" if engine_available() else "local"
        if console:
            why = "a Docker engine answers" if chosen == "docker" else "no Docker engine answers"
            console.print(f"runner: [bold]{chosen}[/] ({why})")
        return chosen
    return kind


@contextmanager
def start_runner(
    kind: RunnerKind,
    loaded_spec: LoadedSpec,
    *,
    test_mode: bool = True,
    model_override: str | None = None,
    plan: Plan | None = None,
    base_image: str | None = None,
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 120.0,
    console: Console | None = None,
    on_log: Callable[[str], None] | None = None,
) -> Iterator[Runner]:
    """Start the agent of `loaded_spec` and yield its `Runner` once it is ready.

    Args:
        kind: `docker`, `local`, or `auto` (docker when an engine answers).
        loaded_spec: the validated spec (a patched one in the fix loop).
        test_mode: start the server with `--test-mode` (requests may carry `script`/`mocks`).
        model_override: `--model` for the server, e.g. `scripted`.
        plan: the compiled plan, when the caller has it already.
        base_image: docker only; default `$FACTORY_BASE_IMAGE`, else `python:3.11-slim`.
        env: extra environment for the server (e.g. `FACTORY_CHECKPOINTER`, model keys).
        ready_timeout: seconds to wait for `GET /ready` after the start.
        console: where progress and the runner choice are printed (default stderr).
        on_log: called with each line the server prints, as it prints it.

    Raises:
        UserError: exit 4 when the engine, the build or the server fails (with the log tail).
    """
    from factory.compiler import compile_plan

    console = console or Console(stderr=True)
    plan = plan if plan is not None else compile_plan(loaded_spec)
    chosen = resolve_kind(kind, console=console)
    if chosen == "docker":
        image = base_image or os.environ.get(BASE_IMAGE_ENV) or DEFAULT_BASE_IMAGE
        with run_docker(
            loaded_spec,
            plan,
            test_mode=test_mode,
            model_override=model_override,
            env=env,
            ready_timeout=ready_timeout,
            base_image=image,
            console=console,
            on_log=on_log,
        ) as runner:
            yield runner
    elif chosen == "local":
        with run_local(
            loaded_spec,
            plan,
            test_mode=test_mode,
            model_override=model_override,
            env=env,
            ready_timeout=ready_timeout,
            on_log=on_log,
        ) as runner:
            yield runner
    else:
        assert_never(chosen)
