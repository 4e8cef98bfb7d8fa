"""Where conversations run: the agent in-process, a served agent at a URL, or one a runner starts.

Every target is a `factory.client` client (entered with `async with`): the runner reads the same
typed events whatever the wire. A URL may be a factory server (its SSE route) or an Agent Server
such as `langgraph dev` serving the context `factory build` writes (the protocol is picked by
asking the server, or named with `protocol`).
"""

from __future__ import annotations

import asyncio
import os
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any

from factory.client import Client, InProcessClient, Remote, WireProtocol
from factory.errors import ExitCode, UserError

if TYPE_CHECKING:
    from factory.language.loader import LoadedSpec
    from graphs.plan import Plan

__all__ = ["Target", "effective_model", "open_target", "runner_url"]

RUNNERS = ("local", "docker")
READ_TIMEOUT_S = 120.0
"""A served turn that sends nothing for this long fails (a test run must not hang on a stuck server)."""

Target = AbstractAsyncContextManager[Client]
"""What `open_target` returns: entering it gives the opened client."""


def effective_model(model: str | None) -> str | None:
    """The offline default: `--model` / `FACTORY_MODEL` if given, else `scripted`.

    `--model spec` means "the models the spec names" (no override).
    """
    chosen = model or os.environ.get("FACTORY_MODEL") or "scripted"
    return None if chosen == "spec" else chosen


def runner_url(name: str, *, loaded: LoadedSpec, plan: Plan, model: str | None) -> AbstractContextManager[Any]:
    """Start the agent with a build runner (`local`, `docker`) in test mode; yields a `Runner` (`.base_url`).

    The hook of the build issue: `factory.runners.start_runner(kind, loaded_spec, test_mode=True,
    model_override=..., plan=...)`.
    """
    try:
        from factory.runners import start_runner
    except ImportError:
        raise UserError(f"the {name!r} runner is not available yet",
                        hint="use `--target inprocess` or the URL of a running `factory serve --test-mode`",
                        exit_code=ExitCode.USAGE) from None
    return start_runner(name, loaded, test_mode=True, model_override=model, plan=plan)  # type: ignore[arg-type]


class _RunnerTarget:
    """The agent a runner starts before the run and stops after it, reached over SSE."""

    def __init__(self, name: str, *, loaded: LoadedSpec, plan: Plan, model: str | None) -> None:
        self._name, self._agent = name, loaded.spec.name
        self._runner = runner_url(name, loaded=loaded, plan=plan, model=model)
        self._remote: Remote | None = None

    async def __aenter__(self) -> Client:
        runner = await asyncio.to_thread(self._runner.__enter__)
        try:
            self._remote = Remote(str(runner.base_url), protocol="sse", agent=self._agent,
                                  read_timeout_s=READ_TIMEOUT_S)
            client = await self._remote.__aenter__()
        except BaseException as exc:
            await asyncio.to_thread(self._runner.__exit__, type(exc), exc, exc.__traceback__)
            raise
        client.description = f"{self._name} ({client.description})"
        return client

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            if self._remote is not None:
                await self._remote.__aexit__(exc_type, exc, tb)
        finally:
            await asyncio.to_thread(self._runner.__exit__, exc_type, exc, tb)


def open_target(target: str, *, loaded: LoadedSpec, plan: Plan, model: str | None,
                protocol: WireProtocol = "auto") -> Target:
    """`inprocess`, an `http(s)://` URL (of `factory serve --test-mode`, or of an Agent Server in test
    mode), or a runner name (`local`, `docker`)."""
    if target == "inprocess":
        return InProcessClient(plan, base_dir=loaded.folder, model=model, spec=loaded.spec)
    if target.startswith(("http://", "https://")):
        return Remote(target, protocol=protocol, agent=loaded.spec.name, read_timeout_s=READ_TIMEOUT_S)
    if target in RUNNERS:
        return _RunnerTarget(target, loaded=loaded, plan=plan, model=model)
    raise UserError(f"unknown --target {target!r}",
                    hint="use `inprocess`, `local`, `docker`, or a URL like http://127.0.0.1:8000")
