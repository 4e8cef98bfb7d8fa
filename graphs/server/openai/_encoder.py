"""Events -> OpenAI's wire: `chat.completion.chunk` SSE blocks, or one `chat.completion`."""

from __future__ import annotations

import time
from typing import Any

from fastapi.sse import format_sse_event

from graphs.events import EndEvent, ErrorEvent, Event, MetadataEvent, TokenEvent
from graphs.server._state import dumps

__all__ = ["ChunkEncoder", "completion"]


def _usage(end: EndEvent) -> dict[str, int]:
    return {
        "prompt_tokens": end.usage.get("input_tokens", 0),
        "completion_tokens": end.usage.get("output_tokens", 0),
        "total_tokens": end.usage.get("total_tokens", 0),
    }


class ChunkEncoder:
    """One streamed completion: `start()` once, then `encode(event)` for each event that follows."""

    def __init__(self, metadata: MetadataEvent, model: str, *, include_usage: bool) -> None:
        self.thread_id, self.include_usage = metadata.thread_id, include_usage
        self.base = {"id": f"chatcmpl-{metadata.run_id}", "object": "chat.completion.chunk",
                     "created": int(time.time()), "model": model}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return format_sse_event(data_str=dumps({**self.base, "choices": [choice], **extra}))

    def start(self) -> bytes:
        """The first chunk: the assistant's role, and the thread id."""
        return self._chunk({"role": "assistant", "content": ""}, thread_id=self.thread_id)

    def encode(self, event: Event) -> list[bytes]:
        """The SSE blocks for one event; after `error` (a `data: {"error": ...}` block) or `end` (the
        finish chunk, the usage chunk if asked for, `[DONE]`) the stream is over."""
        if isinstance(event, TokenEvent):
            return [self._chunk({"content": event.text})]
        if isinstance(event, ErrorEvent):
            error = {"message": event.message, "type": "server_error", "code": event.code,
                     "retryable": event.retryable}
            return [format_sse_event(data_str=dumps({"error": error}))]
        if isinstance(event, EndEvent):
            blocks = [self._chunk({}, "stop")]
            if self.include_usage:
                blocks.append(format_sse_event(data_str=dumps({**self.base, "choices": [], "usage": _usage(event)})))
            return [*blocks, format_sse_event(data_str="[DONE]")]
        return []  # node, tool, interrupt and state events have no place in OpenAI's chunks


def completion(metadata: MetadataEvent, end: EndEvent, model: str) -> dict[str, Any]:
    """A whole `chat.completion` for a turn that ended with `end`."""
    return {
        "id": f"chatcmpl-{metadata.run_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": end.reply},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": _usage(end),
        "thread_id": metadata.thread_id,
    }
