"""The HTTP server for one compiled agent: LangServe, SSE, WebSocket, OpenAI-compatible, the Agent
Server API, MCP (`/mcp`) and A2A (`/a2a`).

`create_app(plan, base_dir=...)` builds the FastAPI app; its lifespan opens the checkpointer and
compiles the graph (`graphs.agent.Agent`). Every chat surface runs turns through `Agent.turn()` /
`Agent.open_turn()` (LangServe's raw graph runs through `Agent.session()`), so they share one event
vocabulary, the per-thread lock and the restore-on-error; each wire protocol is only an encoder of
`graphs.events` plus its routes (`sse`, `websocket`, `openai`, `langserve`, `agent_server`,
`mcp_endpoint`, `a2a`). Errors are mapped in one place (`ApiError`, `as_api_error`) and answered in
each route family's shape. Started by
`factory serve SPEC` or, in the image, `python -m graphs.server --plan plan.json`.
"""

from graphs.server._app import TEST_MODE_ENV, FactoryApp, create_app, served_checkpointer_url
from graphs.server._errors import (
    DEFAULT_FAMILY,
    ApiError,
    ErrorFamily,
    FieldProblem,
    ProblemBody,
    TurnFailed,
    add_error_family,
    as_api_error,
    error_code_table,
    error_response,
    validation_error,
)
from graphs.server._fields import JsonValue, OpaqueJson, ThreadId, message_text
from graphs.server._openapi import TURN_FAILURES, errors_documented, event_stream, with_parameters
from graphs.server._state import ServerState, server_state
from graphs.server.auth import AuthConfigError
from graphs.server.limits import Limits
from graphs.server.preflight import StartupError

__all__ = [
    "DEFAULT_FAMILY",
    "TEST_MODE_ENV",
    "TURN_FAILURES",
    "ApiError",
    "AuthConfigError",
    "ErrorFamily",
    "FactoryApp",
    "FieldProblem",
    "JsonValue",
    "Limits",
    "OpaqueJson",
    "ProblemBody",
    "ServerState",
    "StartupError",
    "ThreadId",
    "TurnFailed",
    "add_error_family",
    "as_api_error",
    "create_app",
    "error_code_table",
    "error_response",
    "errors_documented",
    "event_stream",
    "message_text",
    "served_checkpointer_url",
    "server_state",
    "validation_error",
    "with_parameters",
]
