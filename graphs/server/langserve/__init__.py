"""LangServe routes: the compiled graph at `serve.path`, and a chat-shaped runnable for the playground.

- `serve.path` (`/invoke`, `/batch`, `/stream`, `/stream_events`, `/stream_log`, the schemas): the
  compiled LangGraph graph itself (`GraphRunnable`). Pass `config={"configurable": {"thread_id": ...}}`
  to continue a thread; without one every call starts a new thread. Its input is typed from the
  plan (messages as `{role, content}`, each slot as its spec type), so a bad request is a `422`; a
  run holds its thread (`Agent.session`) and a failed or cancelled run restores it.
- `serve.path + "/chat"` (same endpoints and the chat playground): input `{"messages": [...],
  "input": "text"}`, output the reply as a string streamed token by token (`ChatRunnable`). It runs
  through `Agent.turn()`, so it shares the thread lock, the restore-on-error and the events.

Modules: `_schemas` (what the routes accept and return), `_graph` and `_chat` (the two runnables),
`_threads` (what both share), `_routes` (validation, the busy check, LangServe's handler).
"""

from graphs.server.langserve._chat import ChatRunnable, history_thread, playground_thread_id, reply_text
from graphs.server.langserve._graph import GraphRunnable
from graphs.server.langserve._routes import add_langserve_routes
from graphs.server.langserve._schemas import (
    PlaygroundMessage,
    RequestModels,
    RunConfig,
    chat_input_model,
    input_model,
    state_model,
)

__all__ = [
    "ChatRunnable",
    "GraphRunnable",
    "PlaygroundMessage",
    "RequestModels",
    "RunConfig",
    "add_langserve_routes",
    "chat_input_model",
    "history_thread",
    "input_model",
    "playground_thread_id",
    "reply_text",
    "state_model",
]
