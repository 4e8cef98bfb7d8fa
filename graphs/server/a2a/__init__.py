"""The served agent as an A2A agent: JSON-RPC 2.0 at `/a2a` (and `/a2a/{assistant_id}`), the agent
card at `/.well-known/agent-card.json`. `message/send`, `message/stream` (SSE) and `tasks/get`;
`contextId` is the thread; an `interrupt` is the task state `input-required`. An encoder of
`graphs.events` (`_encode`) plus its routes (`_routes`)."""

from graphs.server.a2a._encode import TaskEncoder
from graphs.server.a2a._jsonrpc import RpcError, error_body, parse_request, result_body
from graphs.server.a2a._models import PROTOCOL_VERSION, MessageSendParams, TaskQueryParams
from graphs.server.a2a._routes import CARD_PATH, PATH, agent_card, router
from graphs.server.a2a._tasks import TaskRecord, TaskStore

__all__ = [
    "CARD_PATH", "PATH", "PROTOCOL_VERSION", "MessageSendParams", "RpcError", "TaskEncoder", "TaskQueryParams",
    "TaskRecord", "TaskStore", "agent_card", "error_body", "parse_request", "result_body", "router",
]
