"""The parts of one turn that are not the agent's: the handle a server holds (`OpenTurn`), the tally
its `end` event reports (`Fold`), and the answers made without running the graph (a retried saved
turn, an interrupt's question)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from graphs.events import (
    Event,
    MetadataEvent,
    NodeEvent,
    TokenEvent,
    UpdateEvent,
    UsageReport,
    ValuesEvent,
)
from graphs.models.scripted import split_tokens

__all__ = ["Fold", "OpenTurn", "question_tokens", "saved_reply"]


@dataclass
class OpenTurn:
    """A turn whose thread is already held: `metadata` is its first event; `stream` the others, in
    lists of the events that were ready together (see `batches`)."""

    metadata: MetadataEvent
    stream: AsyncIterator[list[Event]]

    @property
    def thread_id(self) -> str:
        return self.metadata.thread_id

    @property
    def rest(self) -> AsyncIterator[Event]:
        """The events after `metadata`, one by one (a new iterator over the same turn: read it once)."""
        return _one_by_one(self.stream)

    async def events(self) -> AsyncIterator[Event]:
        """Every event, `metadata` included."""
        yield self.metadata
        async for event in self.rest:
            yield event

    async def batches(self) -> AsyncIterator[list[Event]]:
        """Every event, in lists of the events that were ready together: a model that sends a burst of
        tokens in one packet gives one list, so a wire protocol can write them at once. A list is
        handed over as soon as the turn would wait, so nothing ready is held back."""
        yield [self.metadata]
        async for batch in self.stream:
            yield batch

    async def aclose(self) -> None:
        """Stop the turn (if still running): the thread is restored and released."""
        aclose = getattr(self.stream, "aclose", None)
        if aclose is not None:
            await aclose()


async def _one_by_one(batches: AsyncIterator[list[Event]]) -> AsyncIterator[Event]:
    async for batch in batches:
        for event in batch:
            yield event


@dataclass
class Fold:
    """What the turn's `end` event reports, gathered while its events pass."""

    started: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    reply: list[str] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    question: dict[str, Any] | None = None  # the interrupt the turn stopped at

    def token(self, text: str) -> None:
        if self.first_token is None:
            self.first_token = time.perf_counter()
        self.reply.append(text)

    def add_usage(self, report: UsageReport) -> None:
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            self.usage[key] = self.usage.get(key, 0) + getattr(report, key)

    def ms(self, moment: float | None) -> float | None:
        return None if moment is None else round((moment - self.started) * 1000, 2)

    def event_of(self, item: tuple[str, Any, bool], step_events: bool) -> Event | None:
        """The event of one item of LangGraph's stream (None when it is only noted here)."""
        mode, chunk, top = item
        if mode == "updates":
            pending = chunk.get("__interrupt__") if isinstance(chunk, dict) else None
            if pending:
                self.question = pending[0].value
            return UpdateEvent(updates=chunk) if step_events and top else None
        if mode == "values":
            return ValuesEvent(values=chunk)
        if isinstance(chunk, UsageReport):
            self.add_usage(chunk)
            return None
        if isinstance(chunk, TokenEvent):
            self.token(chunk.text)
        elif isinstance(chunk, NodeEvent) and chunk.phase == "start":
            self.path.append(chunk.node)
        return chunk  # type: ignore[no-any-return]


def saved_reply(before: Any, message_id: str | None) -> str | None:
    """The reply saved after the thread's last user message when that message has id `message_id`
    (the turn was saved, then its client lost the stream and sent it again); None otherwise."""
    if message_id is None:
        return None
    messages = (before.values or {}).get("messages") or []
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            if messages[index].id != message_id:
                return None
            return "".join(m.text for m in messages[index + 1:] if isinstance(m, AIMessage))
    return None


def question_tokens(question: dict[str, Any], fold: Fold) -> list[TokenEvent]:
    """The interrupt's question streamed as the turn's reply, set apart from what a node already said."""
    pieces = split_tokens(question["question"])
    if fold.reply and not fold.reply[-1].endswith("\n"):
        pieces = ["\n\n", *pieces]
    events = []
    for piece in pieces:
        fold.token(piece)
        events.append(TokenEvent(text=piece, node=question["node"]))
    return events
