"""Tools of the three forms (`python`, `http`, `returns`): their JSON schemas and how they run."""

from __future__ import annotations

import importlib
import inspect
import json
import os
from collections.abc import Callable
from typing import Any

from langchain_core.utils.function_calling import convert_to_openai_tool

from graphs import fixtures
from graphs.plan import ToolPlan
from graphs.templates import render

__all__ = ["ToolError", "Toolbox", "import_function"]

_EMPTY_OBJECT: dict[str, Any] = {"type": "object", "properties": {}}


class ToolError(RuntimeError):
    """A tool failed; the message is safe to show."""


def import_function(ref: str) -> Callable[..., Any]:
    """`module:function` -> the callable (modules resolve from the spec's folder first)."""
    module_name, _, attr = ref.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        raise ToolError(f"cannot import {ref!r}: {exc}") from None


class Toolbox:
    """The spec's tools, callable by name; honours the thread's mocks."""

    def __init__(self, tools: dict[str, ToolPlan]) -> None:
        self.tools = tools

    def schema(self, name: str) -> dict[str, Any]:
        """The OpenAI function-tool schema the model sees."""
        tool = self.tools[name]
        if tool["form"] == "python" and tool["parameters"] is None:
            spec = convert_to_openai_tool(import_function(tool["python"]))
            spec["function"]["name"] = name
            spec["function"]["description"] = tool["description"]
            return spec
        return {"type": "function", "function": {"name": name, "description": tool["description"],
                                                  "parameters": tool["parameters"] or _EMPTY_OBJECT}}

    async def call(self, name: str, args: dict[str, Any], *, thread_id: str | None) -> Any:
        found = fixtures.for_thread(thread_id)
        if found is not None:
            mocked = found.mock(name)
            if found.is_mocked(mocked):
                return mocked
        tool = self.tools.get(name)
        if tool is None:
            raise ToolError(f"unknown tool {name!r}")
        form = tool["form"]
        if form == "returns":
            return tool["returns"]
        if form == "python":
            function = import_function(tool["python"])
            try:
                result = function(**args)
                return await result if inspect.isawaitable(result) else result
            except TypeError as exc:
                raise ToolError(f"tool {name!r} rejected its arguments {args!r}: {exc}") from None
        return await _http(name, tool["http"], args)


async def _http(name: str, http: dict[str, Any], args: dict[str, Any]) -> Any:
    import httpx

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return render(value, args)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    headers = {k: render(v, args) for k, v in http.get("headers", {}).items()}
    for header, variable in http.get("headers_env", {}).items():
        if variable not in os.environ:
            raise ToolError(f"tool {name!r} needs ${variable} for header {header!r}")
        headers[header] = os.environ[variable]
    body = fill(http.get("body"))
    try:
        async with httpx.AsyncClient(timeout=http.get("timeout_s", 10)) as client:
            response = await client.request(http["method"], render(http["url"], args), headers=headers,
                                            json=body if body is not None else None)
            response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ToolError(f"tool {name!r}: HTTP call failed: {exc}") from None
    try:
        return response.json()
    except json.JSONDecodeError:
        return response.text
