"""Where conversations run: the agent in-process, or a served agent over the real SSE protocol.

A `Target` is an async context manager whose `turn()` yields the events of the one event
vocabulary as plain dicts `{"event": name, "data": {...}}`. The runner measures time to first
token and total time around `turn()`, so both targets are timed as a client sees them.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from factory.errors import ExitCode, UserError

if TYPE_CHECKING:
    from factory.language.loader import LoadedSpec
    from graphs.plan import Plan

__all__ = ["HttpSseTarget", "InProcessTarget", "Target", "effective_model", "open_target", "runner_url"]

RUNNERS = ("local", "docker")


class Target(Protocol):
    """Something that runs one user turn and streams its events."""

    description: str

    async def __aenter__(self) -> Target: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    def turn(self, message: str, *, thread_id: str | None, script: dict[str, list[Any]] | None,
             mocks: dict[str, Any] | None) -> AsyncIterator[dict[str, Any]]: ...


def effective_model(model: str | None) -> str | None:
    """The offline default: `--model` / `FACTORY_MODEL` if given, else `scripted`.

    `--model spec` means "the models the spec names" (no override).
    """
    chosen = model or os.environ.get("FACTORY_MODEL") or "scripted"
    return None if chosen == "spec" else chosen


class InProcessTarget:
    """The agent compiled in this process against a memory checkpointer."""

    def __init__(self, plan: Plan, *, base_dir: str | Path, model: str | None) -> None:
        self.plan, self.base_dir, self.model = plan, base_dir, model
        self.description = f"inprocess (model {model or 'as in the spec'})"
        self._stack = AsyncExitStack()
        self._agent: Any = None

    async def __aenter__(self) -> InProcessTarget:
        from graphs.agent import Agent
        from graphs.models import ModelConfigError

        try:
            self._agent = await self._stack.enter_async_context(
                Agent.open(self.plan, checkpointer="memory", base_dir=self.base_dir, model_override=self.model))
        except ModelConfigError as exc:
            raise UserError(str(exc), hint="run offline with `--model scripted`") from None
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stack.aclose()

    async def turn(self, message: str, *, thread_id: str | None, script: dict[str, list[Any]] | None,
                   mocks: dict[str, Any] | None) -> AsyncIterator[dict[str, Any]]:
        assert self._agent is not None, "use the target as an async context manager"
        async for event in self._agent.turn(message, thread_id=thread_id, script=script, mocks=mocks):
            yield event.as_dict()


class HttpSseTarget:
    """A served agent: `POST {url}/chat/stream` with `{message, thread_id?, script?, mocks?}`.

    Scripts and mocks reach the agent only when the server runs in test mode
    (`factory serve --test-mode`); a production server answers 403, reported as a `UserError`.
    """

    def __init__(self, url: str, *, timeout_s: float = 120.0, headers: dict[str, str] | None = None,
                 agent: str | None = None) -> None:
        import httpx

        try:
            httpx.URL(url)
        except (httpx.InvalidURL, ValueError) as exc:
            raise UserError(f"--target {url!r} is not a valid URL: {exc}",
                            hint="use e.g. http://127.0.0.1:8000") from None
        self.url = url.rstrip("/")
        self.agent = agent
        self.description = self.url
        self._timeout_s, self._headers = timeout_s, dict(headers or {})
        self._client: Any = None

    async def __aenter__(self) -> HttpSseTarget:
        import httpx

        self._client = httpx.AsyncClient(timeout=httpx.Timeout(self._timeout_s, connect=10.0),
                                         headers=self._headers)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def turn(self, message: str, *, thread_id: str | None, script: dict[str, list[Any]] | None,
                   mocks: dict[str, Any] | None) -> AsyncIterator[dict[str, Any]]:
        from httpx_sse import aconnect_sse

        body: dict[str, Any] = {"message": message}
        if thread_id:
            body["thread_id"] = thread_id
        if script:
            body["script"] = script
        if mocks:
            body["mocks"] = mocks
        import httpx

        try:
            async with aconnect_sse(self._client, "POST", f"{self.url}/chat/stream", json=body) as source:
                response = source.response
                if response.status_code != 200:
                    await response.aread()
                    raise _http_problem(self.url, response.status_code, response.text)
                async for sse in source.aiter_sse():
                    if not sse.data:
                        continue
                    event = {"event": sse.event, "data": json.loads(sse.data)}
                    self._check_agent(event)
                    yield event
        except httpx.ConnectError as exc:
            raise UserError(f"cannot reach {self.url}: {exc}",
                            hint="start it with `factory serve SPEC --test-mode --model scripted`") from None


    def _check_agent(self, event: dict[str, Any]) -> None:
        served = event["data"].get("agent") if event["event"] == "metadata" else None
        if self.agent and served and served != self.agent:
            raise UserError(f"{self.url} serves the agent {served!r}, not {self.agent!r} (the spec under test)",
                            hint="point --target at a server started from this spec")


def _http_problem(url: str, status: int, text: str) -> UserError:
    if status == 403:
        return UserError(f"{url} refused the test's script and mocks (403)",
                         hint="start the server in test mode: `factory serve SPEC --test-mode`")
    return UserError(f"{url}/chat/stream answered {status}: {text[:300]}")


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


class _RunnerTarget(HttpSseTarget):
    """An `HttpSseTarget` against an agent a runner starts before the run and stops after it."""

    def __init__(self, name: str, *, loaded: LoadedSpec, plan: Plan, model: str | None) -> None:
        super().__init__("http://runner.invalid", agent=loaded.spec.name)
        self.description = name
        self._runner = runner_url(name, loaded=loaded, plan=plan, model=model)
        self._name = name

    async def __aenter__(self) -> HttpSseTarget:
        runner = await asyncio.to_thread(self._runner.__enter__)
        self.url = str(runner.base_url).rstrip("/")
        self.description = f"{self._name} ({self.url})"
        return await super().__aenter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            await asyncio.to_thread(self._runner.__exit__, exc_type, exc, tb)


def open_target(target: str, *, loaded: LoadedSpec, plan: Plan, model: str | None) -> Target:
    """`inprocess`, an `http(s)://` URL, or a runner name (`local`, `docker`)."""
    if target == "inprocess":
        return InProcessTarget(plan, base_dir=loaded.folder, model=model)
    if target.startswith(("http://", "https://")):
        return HttpSseTarget(target, agent=loaded.spec.name)
    if target in RUNNERS:
        return _RunnerTarget(target, loaded=loaded, plan=plan, model=model)
    raise UserError(f"unknown --target {target!r}",
                    hint="use `inprocess`, `local`, `docker`, or a URL like http://127.0.0.1:8000")
