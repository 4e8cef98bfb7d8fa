"""`ChatOpenAI` with a lean streaming path: the same class, settings and errors, less work per token.

Profiling a served turn showed most of its CPU inside the openai SDK, not in LangChain or our
server: the typed `chat.completions.create()` transforms the whole request body against the SDK's
TypedDicts (~1 ms per message of history) and builds a pydantic object for every streamed chunk.
The body LangChain builds is already plain JSON, and LangChain turns each chunk back into a dict, so
for plain streaming we post it through the same client (`AsyncOpenAI.post`: same auth, base URL,
timeouts, retries and error types) and read the chunks as dicts. Anything unusual (structured
output via `response_format`, the Responses API, response headers) takes ChatOpenAI's own path.

Building the body converts every message of the history to its wire dict (~7 us each: 14 ms for a
2,000-message thread, nine times the cost of the JSON itself), so each message's dict is kept while
the message object lives and a request converts only the messages it has not seen.

The SDK's SSE decoder handles the stream line by line in Python (7% of a served turn's CPU, most of
it for the 50 chunks a reply arrives in); `EventSplitter` cuts each network read at its blank lines
with bytes operations instead, and the SDK's stream does the rest (errors, `[DONE]`, closing).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeGuard

import openai
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, BaseMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from langchain_openai import ChatOpenAI
from langchain_openai.chat_models.base import (
    _astream_with_chunk_timeout,
    _convert_from_v1_to_chat_completions,
    _convert_message_to_dict,
)
from openai._streaming import ServerSentEvent

__all__ = ["EventSplitter", "LeanChatOpenAI"]


_WIRE: dict[int, tuple[weakref.ref[BaseMessage], dict[str, Any]]] = {}  # id(message) -> its wire dict


def _wire_dict(message: BaseMessage) -> dict[str, Any]:
    """LangChain's chat-completions dict of `message`, shared: change a copy, never this."""
    key = id(message)
    entry = _WIRE.get(key)
    if entry is None or entry[0]() is not message:
        converted = _convert_from_v1_to_chat_completions(message) if isinstance(message, AIMessage) else message
        entry = (weakref.ref(message, lambda _: _WIRE.pop(key, None)), _convert_message_to_dict(converted))
        _WIRE[key] = entry
    return entry[1]


def _all_messages(value: Any) -> TypeGuard[list[BaseMessage]]:
    return type(value) is list and all(isinstance(item, BaseMessage) for item in value)


class EventSplitter:
    """Server-sent events from a byte stream, as the SDK's `SSEDecoder` reads them (`event` and
    `data` fields; comments, `id` and `retry` are of no use to chat completions and skipped), with
    the stream cut at blank lines by bytes operations rather than line by line. Line ends may be
    `\\n`, `\\r\\n` or `\\r`, split anywhere across reads; an event the stream ends inside is dropped,
    as the SDK drops it."""

    def iter_bytes(self, iterator: Iterator[bytes]) -> Iterator[ServerSentEvent]:
        pending = b""
        for raw in iterator:
            blocks, pending = _cut(pending + raw)
            yield from _events(blocks)
        yield from _events(_last(pending))

    async def aiter_bytes(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
        pending = b""
        async for raw in iterator:
            blocks, pending = _cut(pending + raw)
            for event in _events(blocks):
                yield event
        for event in _events(_last(pending)):
            yield event


def _cut(text: bytes) -> tuple[list[bytes], bytes]:
    """The complete events of `text` and what remains of it (kept for the next read)."""
    held = b""
    if text.endswith(b"\r"):  # maybe half of a `\r\n`: decide with the next read
        text, held = text[:-1], b"\r"
    if b"\r" in text:
        text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    *blocks, rest = text.split(b"\n\n")
    return blocks, rest + held


def _last(pending: bytes) -> list[bytes]:
    """The event a final `\\r` (held back as maybe half of a `\\r\\n`) completes, if it does."""
    return _cut(pending[:-1] + b"\n")[0] if pending.endswith(b"\r") else []


def _events(blocks: list[bytes]) -> Iterator[ServerSentEvent]:
    for block in blocks:
        name: str | None = None
        data: list[bytes] = []
        for line in block.split(b"\n"):
            field, colon, value = line.partition(b":")
            if colon and value.startswith(b" "):
                value = value[1:]
            if field == b"data":
                data.append(value)
            elif field == b"event":
                name = value.decode()
        if data or name:
            yield ServerSentEvent(event=name, data=b"\n".join(data).decode())


class _ChunkStream(openai.AsyncStream[object]):
    """The SDK's stream, reading its events with `EventSplitter`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._decoder = EventSplitter()


class LeanChatOpenAI(ChatOpenAI):
    """`ChatOpenAI` whose plain chat-completions streams skip the SDK's per-request and per-chunk models."""

    def _get_request_payload(self, input_: LanguageModelInput, *, stop: list[str] | None = None,
                             **kwargs: Any) -> dict[str, Any]:
        payload: dict[str, Any] = super()._get_request_payload([], stop=stop, **kwargs)
        if "messages" not in payload:  # the Responses API: its own conversion
            return super()._get_request_payload(input_, stop=stop, **kwargs)
        messages = input_ if _all_messages(input_) else self._convert_input(input_).to_messages()
        wire = [_wire_dict(message) for message in messages]
        if self.model_name and re.match(r"^o\d", self.model_name):  # as ChatOpenAI does for o-series models
            wire = [{**item, "role": "developer"} if item["role"] == "system" else item for item in wire]
        payload["messages"] = wire
        return payload

    def _lean_payload(self, messages: list[BaseMessage], stop: list[str] | None, stream_usage: bool | None,
                      kwargs: dict[str, Any]) -> dict[str, Any] | None:
        options = dict(kwargs, stream=True)
        if self._should_stream_usage(stream_usage, **options):
            options["stream_options"] = {"include_usage": True}
        payload = self._get_request_payload(messages, stop=stop, **options)
        special = ("response_format" in payload or self.include_response_headers or self._uses_gateway
                   or self._use_responses_api(payload))
        return None if special else payload

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None, *,
                       stream_usage: bool | None = None, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        payload = self._lean_payload(messages, stop, stream_usage, kwargs)
        if payload is None:
            async for chunk in super()._astream(messages, stop, run_manager, stream_usage=stream_usage, **kwargs):
                yield chunk
            return
        chunk_class: type[BaseMessageChunk] = AIMessageChunk
        stream = await self.root_async_client.post("/chat/completions", body=payload, cast_to=object, stream=True,
                                                   stream_cls=_ChunkStream)
        async with stream as chunks:
            timed = chunks if self.stream_chunk_timeout is None else _astream_with_chunk_timeout(
                chunks, self.stream_chunk_timeout, model_name=self.model_name)
            async for raw in timed:
                generation = self._convert_chunk_to_generation_chunk(raw, chunk_class, {})
                if generation is None:
                    continue
                chunk_class = generation.message.__class__
                if run_manager:
                    await run_manager.on_llm_new_token(generation.text, chunk=generation)
                yield generation
