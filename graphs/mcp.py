"""MCP servers a spec names (`mcp_servers:`) and the tools it takes from them (`mcp: server/tool`).

Connections go through `langchain-mcp-adapters` (`create_session`, over the official `mcp` SDK):
stdio (`command` + `args`, run in the spec's folder with the environment variables `env` names and
none of the others, except the few non-secret basics the `mcp` SDK always passes: `PATH`, `HOME`,
`LOGNAME`, `SHELL`, `TERM`, `USER`) or streamable HTTP (`url`, headers from the variables
`headers` names). A stdio `command` of `python` (or `python3`) is the interpreter the agent runs
with, so a server written with the `mcp` SDK, a runtime dependency, starts wherever the agent does
(a venv that is not on `PATH`, the image).

Each server's session lives in a task of its own (`_Link`): the `mcp` SDK's sessions are anyio task
groups that must be closed by the task that opened them, while tool calls come from whichever task
runs a turn. A session opens at the first need (a schema for an `agent` node at start-up, or a
call), and stays open until the agent closes. A server that cannot start, a tool it does not list,
or a tool that answers `isError` is a `ToolError` with the server's name: a `tool` node turns it
into a `tool_error` event, an `agent` node shows it to the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from graphs.plan import McpServerPlan

__all__ = ["McpError", "McpServers"]

CALL_TIMEOUT_S = 60.0
PYTHON_COMMANDS = ("python", "python3")
"""stdio commands that mean the agent's own interpreter (`sys.executable`)."""
START_TIMEOUT_S = 30.0


class McpError(RuntimeError):
    """An MCP server failed (start, listing or call); safe to show."""


def _connection(name: str, server: McpServerPlan, folder: Path) -> dict[str, Any]:
    if "command" in server:
        env = {var: os.environ[var] for var in server.get("env", []) if var in os.environ}
        command = sys.executable if server["command"] in PYTHON_COMMANDS else server["command"]
        return {"transport": "stdio", "command": command, "args": list(server.get("args", [])),
                "env": env, "cwd": str(folder)}
    headers = {}
    for header, variable in (server.get("headers") or {}).items():
        if variable not in os.environ:
            raise McpError(f"MCP server {name!r} needs ${variable} for its {header!r} header; set it")
        headers[header] = os.environ[variable]
    return {"transport": "streamable_http", "url": server["url"], "headers": headers}


class _Link:
    """One server's session, owned by its own task."""

    def __init__(self, name: str, connection: dict[str, Any]) -> None:
        self.name, self.connection = name, connection
        self.session: Any = None
        self.tools: dict[str, dict[str, Any]] = {}
        self._ready: asyncio.Future[None] | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._own(), name=f"mcp-{self.name}")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), START_TIMEOUT_S)
        except TimeoutError:
            raise McpError(f"MCP server {self.name!r} did not start within {START_TIMEOUT_S:.0f} s") from None

    async def _own(self) -> None:
        from langchain_mcp_adapters.sessions import create_session

        assert self._ready is not None
        try:
            async with create_session(self.connection) as session:  # type: ignore[arg-type]
                await session.initialize()
                listed = await session.list_tools()
                self.tools = {tool.name: {"description": tool.description or "", "parameters": tool.inputSchema}
                              for tool in listed.tools}
                self.session = session
                self._ready.set_result(None)
                await self._stop.wait()
        except BaseException as exc:  # noqa: BLE001 - any start failure is reported to the waiting caller
            if not self._ready.done():
                self._ready.set_exception(McpError(f"MCP server {self.name!r} failed to start: {_reason(exc)}"))
            if isinstance(exc, asyncio.CancelledError):
                raise

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._task, 10)


def _reason(exc: BaseException) -> str:
    group = getattr(exc, "exceptions", None)
    if group:  # anyio wraps start failures in exception groups
        return _reason(group[0])
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class McpServers:
    """The spec's MCP servers: schemas of their tools and calls to them."""

    def __init__(self, servers: dict[str, McpServerPlan], *, folder: str | Path) -> None:
        self.servers = servers
        self.folder = Path(folder)
        self._links: dict[str, _Link] = {}

    async def _link(self, name: str) -> _Link:
        if name not in self.servers:
            raise McpError(f"unknown MCP server {name!r}")
        link = self._links.get(name)
        if link is None:
            link = self._links[name] = _Link(name, _connection(name, self.servers[name], self.folder))
        await link.open()
        return link

    async def schema(self, ref: str) -> dict[str, Any]:
        """`{"description", "parameters"}` of `server/tool` as the server lists it."""
        server, tool = ref.split("/", 1)
        link = await self._link(server)
        if tool not in link.tools:
            raise McpError(f"MCP server {server!r} has no tool {tool!r}; it lists {sorted(link.tools)}")
        return link.tools[tool]

    async def call(self, ref: str, args: dict[str, Any]) -> Any:
        """Call `server/tool`; the result is its structured content, else its text (JSON when it parses)."""
        server, tool = ref.split("/", 1)
        link = await self._link(server)
        allowed = self.servers[server].get("tools")
        if allowed is not None and tool not in allowed:
            raise McpError(f"the tool {tool!r} of MCP server {server!r} is not in its `tools` allowlist")
        try:
            result = await asyncio.wait_for(link.session.call_tool(tool, args), CALL_TIMEOUT_S)
        except TimeoutError:
            raise McpError(f"MCP tool {ref!r} did not answer within {CALL_TIMEOUT_S:.0f} s") from None
        except Exception as exc:
            raise McpError(f"MCP tool {ref!r} failed: {_reason(exc)}") from None
        text = "".join(getattr(part, "text", "") for part in result.content)
        if result.isError:
            raise McpError(f"MCP tool {ref!r} answered an error: {text or 'no detail'}")
        if result.structuredContent is not None:
            return result.structuredContent
        try:
            return json.loads(text)
        except ValueError:
            return text

    async def close(self) -> None:
        await asyncio.gather(*(link.close() for link in self._links.values()))
        self._links.clear()
