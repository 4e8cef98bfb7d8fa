"""The one encoder of this protocol: a turn's typed events -> an MCP tool result.

A turn that ends is a text result (the reply) with structured content `{reply, thread_id,
interrupted, question}`; a turn that fails, or a request refused before it started, is a tool
error (`isError`) whose text leads with the error code and says how to fix it, never a traceback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from mcp import types

from graphs.events import ERROR_CODES, EndEvent, ErrorEvent, Event, InterruptEvent, MetadataEvent
from graphs.server._errors import ApiError

__all__ = ["OUTPUT_SCHEMA", "error_result", "result_of"]

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reply": {"type": "string", "description": "The agent's reply (the question, when it paused)."},
        "thread_id": {"type": "string", "description": "The thread: send it again to continue the conversation."},
        "interrupted": {"type": "boolean", "description": "True when the agent waits for an answer to `question`."},
        "question": {"type": ["string", "null"], "description": "What the agent asks, when it paused."},
    },
    "required": ["reply", "thread_id", "interrupted", "question"],
}


async def result_of(events: AsyncIterator[Event]) -> types.CallToolResult:
    """Fold one turn's events into the tool's result. Reads the stream to its end: a turn closed
    early (even right after its `end`) is a turn cancelled, and its thread is restored."""
    thread_id = ""
    question: str | None = None
    result: types.CallToolResult | None = None
    async for event in events:
        if isinstance(event, MetadataEvent):
            thread_id = event.thread_id
        elif isinstance(event, InterruptEvent):
            question = event.question
        elif isinstance(event, ErrorEvent):
            result = error_result(event, thread_id=thread_id)
        elif isinstance(event, EndEvent):
            structured = {"reply": event.reply, "thread_id": thread_id, "interrupted": event.interrupted,
                          "question": question}
            result = types.CallToolResult(content=[types.TextContent(type="text", text=event.reply)],
                                          structuredContent=structured)
    if result is None:
        return error_result(ErrorEvent.of("internal_error", "the turn stopped without an end; retry"),
                            thread_id=thread_id)
    return result


def error_result(error: ErrorEvent | ApiError, *, thread_id: str | None = None) -> types.CallToolResult:
    """A tool error: `code: what happened`, then what the code means (the fix), then the thread."""
    event = error if isinstance(error, ErrorEvent) else error.event()
    info = ERROR_CODES[event.code]
    lines = [f"{event.code}: {event.message}", info.meaning]
    if info.retryable:
        lines.append("Retrying may help.")
    if thread_id:
        lines.append(f"thread_id: {thread_id} (left as it was before this message)")
    return types.CallToolResult(content=[types.TextContent(type="text", text="\n".join(lines))], isError=True)
