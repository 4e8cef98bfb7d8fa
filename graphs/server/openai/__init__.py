"""The OpenAI-compatible surface: `POST /v1/chat/completions` (streaming and not) and `GET /v1/models`.

`model` is the spec's name. Only the last `user` message is sent to the agent: the conversation
lives in the thread, not in the request. The thread comes from the `X-Thread-Id` header, else the
`user` field, else a new thread; the answer carries it back in the `X-Thread-Id` header (and a
`thread_id` field on the completion / first chunk). Errors have OpenAI's shape,
`{"error": {"message", "type", "code", "param"}}` (`OPENAI_ERRORS`).
"""

from graphs.server.openai._encoder import ChunkEncoder, completion
from graphs.server.openai._routes import OPENAI_ERRORS, router_for
from graphs.server.openai._schemas import (
    ChatCompletion,
    ChatMessage,
    CompletionRequest,
    ContentPart,
    ModelList,
    OpenAIErrorBody,
    StreamOptions,
)

__all__ = [
    "OPENAI_ERRORS",
    "ChatCompletion",
    "ChatMessage",
    "ChunkEncoder",
    "CompletionRequest",
    "ContentPart",
    "ModelList",
    "OpenAIErrorBody",
    "StreamOptions",
    "completion",
    "router_for",
]
