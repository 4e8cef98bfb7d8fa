"""The chat-shaped runnable for the playground: `{"messages", "input"}` in, the reply streamed as text.

It runs one `Agent.turn()` per call and encodes its events as LangServe chat output (`reply_text`):
tokens are the text, an `error` event ends the run with `TurnFailed` (which LangServe reports, and
the app answers with the turn's code on `/invoke`).

Threads: the playground sends the whole conversation on every turn and keeps no thread id, but it
does send back each AI message's `runId` (the LangServe run that produced it). The first turn's run
id names the thread (`playground-<run id>`), and later turns find it in the first AI message's
`runId`: a thread per conversation, stable across restarts and replicas, with no server-side table.
An explicit `configurable.thread_id` wins.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForChainRun
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.utils import ConfigurableFieldSpec
from pydantic import BaseModel

from graphs.agent import Agent
from graphs.events import ErrorEvent, Event, TokenEvent
from graphs.server._errors import TurnFailed
from graphs.server.langserve._schemas import chat_input_model
from graphs.server.langserve._threads import THREAD_SPEC, OneAtATimePerThread, thread_from_config
from graphs.server.limits import Limits

__all__ = ["ChatRunnable", "history_thread", "playground_thread_id", "reply_text"]

_AI_TYPES = ("ai", "AIMessage", "AIMessageChunk")


def history_thread(messages: Sequence[Any]) -> str | None:
    """The thread a playground conversation already has: named after the run of its first AI reply."""
    for message in messages:
        fields = message.model_dump() if isinstance(message, BaseModel) else message
        if isinstance(fields, dict) and fields.get("type") in _AI_TYPES:
            first = fields.get("runId") or fields.get("run_id")
            return f"playground-{first}" if first else None
    return None


def playground_thread_id(messages: Sequence[Any], run_id: Any) -> str:
    """The thread of a playground turn: the conversation's, or (first turn) named after this run."""
    return history_thread(messages) or f"playground-{run_id}"


def reply_text(event: Event) -> str | None:
    """The LangServe chat encoding of one event: a token's text; `TurnFailed` for an error."""
    if isinstance(event, TokenEvent):
        return event.text
    if isinstance(event, ErrorEvent):
        raise TurnFailed(event)
    return None


class ChatRunnable(OneAtATimePerThread, Runnable[Any, str]):
    """`{"messages", "input"}` -> the reply, streamed as text; one `Agent.turn()` per call."""

    def __init__(self, get_agent: Callable[[], Agent], name: str, limits: Limits | None = None) -> None:
        self._get_agent = get_agent
        self.name = f"{name}-chat"
        self._input_model = chat_input_model(limits)

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return self._input_model

    @property
    def OutputType(self) -> type[str]:  # noqa: N802 - LangChain's name
        return str

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        return [THREAD_SPEC]

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> str:
        raise NotImplementedError("the chat runnable runs asynchronously; use ainvoke")

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> str:
        parts = [piece async for piece in self.astream(input, config, **kwargs)]
        return "".join(parts)

    async def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[str]:
        async def one() -> AsyncIterator[Any]:
            yield input

        async for piece in self._atransform_stream_with_config(one(), self._turn, config, **kwargs):
            yield piece

    async def _turn(
        self,
        inputs: AsyncIterator[Any],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> AsyncIterator[str]:
        payload: Any = None
        async for item in inputs:
            payload = item
        data = payload.model_dump() if isinstance(payload, BaseModel) else dict(payload or {})
        messages = data.get("messages") or []
        thread = thread_from_config(config) or playground_thread_id(messages, run_manager.run_id)
        async for event in self._get_agent().turn(str(data.get("input") or ""), thread_id=thread):
            text = reply_text(event)
            if text is not None:
                yield text
