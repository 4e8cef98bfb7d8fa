"""Tools of the four forms (`python`, `http`, `returns`, `mcp`): their JSON schemas and how they run."""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from langchain_core.utils.function_calling import convert_to_openai_tool

from graphs.fixtures import Fixtures
from graphs.mcp import McpError, McpServers
from graphs.plan import HttpCallPlan, ToolPlan
from graphs.spec_code import CodeError, SpecCode
from graphs.telemetry._tracing import tool_span
from graphs.templates import TemplateError, render

__all__ = ["ToolError", "Toolbox"]

_EMPTY_OBJECT: dict[str, Any] = {"type": "object", "properties": {}}


class ToolError(RuntimeError):
    """A tool failed; the message is safe to show."""


class Toolbox:
    """The spec's tools, callable by name; honours the thread's mocks."""

    def __init__(self, tools: dict[str, ToolPlan], code: SpecCode, *, mcp: McpServers | None = None) -> None:
        self.tools, self.code, self.mcp = tools, code, mcp
        self._mcp_schemas: dict[str, dict[str, Any]] = {}

    async def prepare(self, names: set[str]) -> None:
        """Fetch, from their servers, the schemas of the `mcp` tools among `names` that declare no
        `parameters` (an `agent` node binds its tools' schemas when the graph is built).

        Raises:
            ToolError: a server did not start or does not list the tool.
        """
        for name in sorted(names):
            tool = self.tools[name]
            if tool["form"] == "mcp" and tool["parameters"] is None:
                if self.mcp is None:
                    raise ToolError(f"tool {name!r} names an MCP server, but the plan has no `mcp_servers`")
                try:
                    self._mcp_schemas[name] = await self.mcp.schema(tool["mcp"])
                except McpError as exc:
                    raise ToolError(f"tool {name!r}: {exc}") from None

    def function(self, ref: str) -> Callable[..., Any]:
        try:
            return self.code.function(ref)
        except CodeError as exc:
            raise ToolError(str(exc)) from None

    def schema(self, name: str) -> dict[str, Any]:
        """The OpenAI function-tool schema the model sees."""
        tool = self.tools[name]
        if tool["form"] == "mcp" and tool["parameters"] is None:
            listed = self._mcp_schemas[name]  # `prepare` fetched it
            return {"type": "function", "function": {"name": name, "description": tool["description"],
                                                      "parameters": listed["parameters"] or _EMPTY_OBJECT}}
        if tool["form"] == "python" and tool["parameters"] is None:
            spec = convert_to_openai_tool(self.function(tool["python"]))
            spec["function"]["name"] = name
            spec["function"]["description"] = tool["description"]
            return spec
        return {"type": "function", "function": {"name": name, "description": tool["description"],
                                                  "parameters": tool["parameters"] or _EMPTY_OBJECT}}

    async def call(self, name: str, args: dict[str, Any], *, fixtures: Fixtures | None) -> Any:
        with tool_span(name):  # an `execute_tool` span when tracing (`graphs.telemetry`)
            return await self._call(name, args, fixtures=fixtures)

    async def _call(self, name: str, args: dict[str, Any], *, fixtures: Fixtures | None) -> Any:
        found = fixtures
        if found is not None:
            mocked = found.mock(name)
            if found.is_mocked(mocked):
                return mocked
        tool = self.tools.get(name)
        if tool is None:
            raise ToolError(f"unknown tool {name!r}")
        form = tool["form"]
        if form == "returns":
            return copy.deepcopy(tool["returns"])
        if form == "python":
            return await _python(name, self.function(tool["python"]), args)
        if form == "mcp":
            if self.mcp is None:
                raise ToolError(f"tool {name!r} names an MCP server, but the plan has no `mcp_servers`")
            try:
                return await self.mcp.call(tool["mcp"], args)
            except McpError as exc:
                raise ToolError(str(exc)) from None
        return await _http(name, tool["http"], args)


async def _python(name: str, function: Callable[..., Any], args: dict[str, Any]) -> Any:
    """Call a python tool. Wrong arguments and the tool's own exceptions become `ToolError`, so an
    agent node can show the model the failure and let it recover; a synchronous tool runs in a
    worker thread so a slow one does not stall every other thread the server is serving."""
    try:
        inspect.signature(function).bind(**args)
    except TypeError as exc:
        raise ToolError(f"tool {name!r} rejected its arguments {args!r}: {exc}") from None
    except ValueError:  # builtins without a signature: let the call decide
        pass
    try:
        if inspect.iscoroutinefunction(function):
            return await function(**args)
        result = await asyncio.to_thread(function, **args)
        return await result if inspect.isawaitable(result) else result
    except ToolError:
        raise
    except Exception as exc:
        raise ToolError(f"tool {name!r} failed: {type(exc).__name__}: {exc}") from None


async def _http(name: str, http: HttpCallPlan, args: dict[str, Any]) -> Any:
    import httpx

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return render(value, args)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    # Arguments land in the URL percent-encoded (`A/1 b` -> `A%2F1%20b`): an argument cannot
    # change the path or smuggle in a query parameter.
    quoted = {k: quote(str(v), safe="") if isinstance(v, str | int | float) else v for k, v in args.items()}
    try:
        url = render(http["url"], quoted)
        headers = {k: render(v, args) for k, v in http.get("headers", {}).items()}
        body = fill(http.get("body"))
    except TemplateError as exc:
        raise ToolError(f"tool {name!r}: {exc}") from None
    for header, variable in http.get("headers_env", {}).items():
        if variable not in os.environ:
            raise ToolError(f"tool {name!r} needs ${variable} for header {header!r}")
        headers[header] = os.environ[variable]
    try:
        async with httpx.AsyncClient(timeout=http.get("timeout_s", 10)) as client:
            response = await client.request(http.get("method", "GET"), url, headers=headers,
                                            json=body if body is not None else None)
            response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise ToolError(f"tool {name!r}: HTTP {exc.response.status_code} from {url}") from None
    except httpx.HTTPError as exc:
        raise ToolError(f"tool {name!r}: HTTP call to {url} failed: {type(exc).__name__}: {exc}") from None
    try:
        return response.json()
    except json.JSONDecodeError:
        return response.text
