"""`/mcp`: the agent as an MCP server (streamable HTTP, the official `mcp` SDK's low-level server).

One tool, named after the agent: `message` (what the user says) and an optional `thread_id` (a new
thread when absent). The call runs one turn through `Agent.open_turn` (the same turn every other
route runs) and answers its reply and thread id (`_encode`). The transport is stateless (every
request stands alone, so any replica can answer it); the conversation lives in the thread.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from starlette.types import Receive, Scope, Send

from graphs.server._errors import ApiError, as_api_error, validation_error
from graphs.server._fields import ThreadId, message_text
from graphs.server._state import ServerState
from graphs.server.mcp_endpoint._encode import OUTPUT_SCHEMA, error_result, result_of

__all__ = ["PATH", "McpEndpoint", "install", "serving"]

PATH = "/mcp"
log = logging.getLogger("graphs.server")


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    message: str
    thread_id: ThreadId | None = Field(
        default=None, description="Continue this thread (from an earlier answer); a new thread when absent.")


class McpEndpoint:
    """The MCP server of one served agent, and the ASGI app its route calls."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.tool = state.name
        self.arguments = create_model(
            "SendMessage", __base__=_Arguments,
            message=(message_text(state.limits.max_message_chars,
                                  description="What the user says (or the answer to the agent's question)."), ...),
        )
        self.server: Server[Any, Any] = Server(state.name, instructions=state.plan["description"] or None)
        self.server.list_tools()(self._list_tools)
        self.server.call_tool(validate_input=False)(self._call_tool)
        self.manager = StreamableHTTPSessionManager(
            app=self.server, stateless=True, max_request_body_size=state.limits.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.manager.handle_request(scope, receive, send)

    async def _list_tools(self) -> list[types.Tool]:
        description = self.state.plan["description"] or f"The {self.tool} agent."
        return [types.Tool(
            name=self.tool,
            title=f"Talk to {self.tool}",
            description=(f"{description.strip()}\n\nSends one message to the agent and returns its reply. "
                         "Pass the `thread_id` of an earlier answer to continue that conversation."),
            inputSchema=self.arguments.model_json_schema(),
            outputSchema=OUTPUT_SCHEMA,
        )]

    async def _call_tool(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        if name != self.tool:
            return error_result(ApiError("not_found", f"unknown tool {name!r}: this server has one tool, "
                                                      f"{self.tool!r}"))
        try:
            args = self.arguments.model_validate(arguments)
        except ValidationError as exc:
            return error_result(validation_error(exc.errors(include_url=False)))
        try:
            turn = await self.state.require_agent().open_turn(args.message, thread_id=args.thread_id)
        except Exception as exc:  # a busy thread, the agent not ready: refused before the turn
            return error_result(_logged(exc), thread_id=args.thread_id)
        try:
            return await result_of(turn.events())
        finally:
            await turn.aclose()


def _logged(exc: Exception) -> ApiError:
    error = as_api_error(exc)
    if error.code == "internal_error":
        log.error("unexpected error in the MCP tool call", exc_info=exc)
    return error


def install(app: FastAPI) -> McpEndpoint:
    """Add `/mcp` to `app` (outside the OpenAPI document: MCP describes itself with `tools/list`)."""
    endpoint = McpEndpoint(app.state.factory)
    app.state.mcp_endpoint = endpoint
    app.add_route(PATH, endpoint, include_in_schema=False)  # type: ignore[arg-type]
    return endpoint


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[None]:
    """Run the MCP session manager for the app's lifetime (inside its lifespan)."""
    endpoint: McpEndpoint | None = getattr(app.state, "mcp_endpoint", None)
    if endpoint is None:
        yield
        return
    async with endpoint.manager.run():
        yield
