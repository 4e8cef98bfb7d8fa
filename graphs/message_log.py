"""A thread's messages stored once each, not once per checkpoint.

LangGraph's savers write a channel's whole value whenever it changes, and `messages` changes every
turn: at turn 1,000 a checkpoint re-encodes and re-writes some 2,000 messages (a megabyte), and the
file grows with the square of the conversation. `MessageLogSaver` wraps the saver: before a
checkpoint is written, the messages it has not stored yet are appended to a log table
(`factory_messages`: thread, namespace, sequence number, the serialized message) and the checkpoint
keeps only spans of sequence numbers (`{"factory.message_log": 1, "spans": [[start, end], ...]}`);
when a checkpoint is read, the spans are resolved back into the message list. A turn then writes its
new messages and a few bytes, whatever the thread's length.

- A message is "already stored" when it is the very object this saver wrote or read at a sequence
  number of that thread (messages are immutable in practice; an edited message is a new object and
  is appended again), so forks, `update_state` and removals need nothing special: a span list can
  name any sequence numbers.
- Each process keeps the messages it wrote or read, per thread, for the threads it served last (at
  most `max_cached_messages` messages in all, 20,000 by default: some 40 MB), so a read of
  a thread this process served decodes nothing; a message another replica wrote is read from the
  database once.
- A thread's first sequence number is random, so a thread that is deleted and made again under the
  same id never meets another process's cached messages of the old one.
- A checkpoint written before this layout holds a plain list and is read as it is.

The log lives in the checkpointer's database (`memory`: a dict; SQLite: a table in that file;
Postgres: a table every replica shares), so it persists exactly as the checkpoints do.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)

from graphs.message_stores import MessageStore

__all__ = ["LOG_KEY", "MessageLogSaver"]

LOG_KEY = "factory.message_log"
CHANNEL = "messages"


class _ThreadMessages:
    """What this process knows of one thread's log: sequence number -> message, and back, and the
    list it stored or read last (a turn's list is usually that list plus new messages: comparing
    object identities in C is all it costs to find the part already stored)."""

    __slots__ = ("by_seq", "last", "last_spans", "seq_of")

    def __init__(self) -> None:
        self.by_seq: dict[int, BaseMessage] = {}
        self.seq_of: dict[int, int] = {}  # id(message) -> seq; `by_seq` keeps the message alive
        self.last: list[BaseMessage] = []
        self.last_spans: list[list[int]] = []

    def add(self, seq: int, message: BaseMessage) -> None:
        old = self.by_seq.get(seq)
        if old is not None:
            self.seq_of.pop(id(old), None)
        self.by_seq[seq] = message
        self.seq_of[id(message)] = seq

    def seq(self, message: Any) -> int | None:
        seq = self.seq_of.get(id(message))
        return seq if seq is not None and self.by_seq.get(seq) is message else None

    def remember(self, messages: list[BaseMessage], spans: list[list[int]]) -> None:
        self.last, self.last_spans = list(messages), [list(span) for span in spans]

    def known_prefix(self, messages: list[Any]) -> int:
        """How many leading messages are the last list's (0 unless all of it leads `messages`)."""
        count = len(self.last)
        return count if count and len(messages) >= count and messages[:count] == self.last else 0


def spans_of(seqs: Sequence[int], spans: list[list[int]] | None = None) -> list[list[int]]:
    """Runs of consecutive numbers as `[start, end)` pairs, after `spans` when given:
    `[3, 4, 5, 9]` -> `[[3, 6], [9, 10]]`."""
    spans = [list(span) for span in spans or []]
    for seq in seqs:
        if spans and spans[-1][1] == seq:
            spans[-1][1] = seq + 1
        else:
            spans.append([seq, seq + 1])
    return spans


def log_spans(value: Any) -> list[list[int]] | None:
    """The spans of a checkpoint's `messages` value written by this saver; None for a plain list."""
    return value["spans"] if type(value) is dict and LOG_KEY in value else None


class MessageLogSaver(BaseCheckpointSaver[Any]):
    """`inner` with the `messages` channel kept in `store` (see the module's docstring). Async only,
    as the agents run; the sync methods are not supported."""

    def __init__(self, inner: BaseCheckpointSaver[Any], store: MessageStore, *,
                 max_cached_messages: int = 20_000) -> None:
        super().__init__(serde=inner.serde)
        self.inner = inner
        self.store = store
        self.max_cached_messages = max_cached_messages
        self._kept = 0  # messages in `_threads`
        self._threads: OrderedDict[tuple[str, str], _ThreadMessages] = OrderedDict()

    @property
    def config_specs(self) -> list[Any]:
        return self.inner.config_specs

    def get_next_version(self, current: Any, channel: None) -> Any:
        return self.inner.get_next_version(current, channel)

    def _thread(self, thread_id: str, ns: str) -> _ThreadMessages:
        key = (thread_id, ns)
        known = self._threads.get(key)
        if known is None:
            known = self._threads[key] = _ThreadMessages()
        else:
            self._threads.move_to_end(key)
        return known

    def _kept_more(self, count: int) -> None:
        """`count` messages more are kept: forget the threads used least recently until the
        messages kept fit the budget (the thread just used stays, however long)."""
        self._kept += count
        while self._kept > self.max_cached_messages and len(self._threads) > 1:
            _, known = self._threads.popitem(last=False)
            self._kept -= len(known.by_seq)

    # ------------------------------------------------------------------------- write

    async def aput(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
                   new_versions: ChannelVersions) -> RunnableConfig:
        values = checkpoint["channel_values"]
        messages = values.get(CHANNEL)
        if isinstance(messages, list):  # SQLite writes every channel's value, changed or not
            configurable = config["configurable"]
            ref = await self._store(str(configurable["thread_id"]), configurable.get("checkpoint_ns", ""), messages)
            checkpoint = {**checkpoint, "channel_values": {**values, CHANNEL: ref}}
        return await self.inner.aput(config, checkpoint, metadata, new_versions)

    async def _store(self, thread_id: str, ns: str, messages: list[Any]) -> dict[str, Any]:
        known = self._thread(thread_id, ns)
        prefix = known.known_prefix(messages)
        rest = messages[prefix:]
        seqs: list[int | None] = [known.seq(message) for message in rest]
        new = [message for message, seq in zip(rest, seqs, strict=True) if seq is None]
        if new:
            blobs = [self.serde.dumps_typed(message) for message in new]
            fresh = iter(await self.store.append(thread_id, ns, blobs, first_if_empty=secrets.randbits(40) << 20))
            for index, seq in enumerate(seqs):
                if seq is None:
                    seqs[index] = seq = next(fresh)
                    known.add(seq, rest[index])
        spans = spans_of([seq for seq in seqs if seq is not None], known.last_spans if prefix else None)
        known.remember(messages, spans)
        if new:
            self._kept_more(len(new))
        return {LOG_KEY: 1, "spans": spans}

    async def aput_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str,
                          task_path: str = "") -> None:
        await self.inner.aput_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await self.inner.adelete_thread(thread_id)
        await self.store.delete_thread(thread_id)
        for key in [key for key in self._threads if key[0] == thread_id]:
            self._kept -= len(self._threads.pop(key).by_seq)

    # ------------------------------------------------------------------------- read

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        found = await self.inner.aget_tuple(config)
        return None if found is None else await self._resolve(found)

    async def alist(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
                    before: RunnableConfig | None = None, limit: int | None = None) -> AsyncIterator[CheckpointTuple]:
        async for found in self.inner.alist(config, filter=filter, before=before, limit=limit):
            yield await self._resolve(found)

    async def _resolve(self, found: CheckpointTuple) -> CheckpointTuple:
        values = found.checkpoint["channel_values"]
        spans = log_spans(values.get(CHANNEL))
        if spans is None:
            return found
        configurable = found.config["configurable"]
        messages = await self._load(str(configurable["thread_id"]), configurable.get("checkpoint_ns", ""), spans)
        checkpoint: Checkpoint = {**found.checkpoint, "channel_values": {**values, CHANNEL: messages}}
        return found._replace(checkpoint=checkpoint)

    async def _load(self, thread_id: str, ns: str, spans: Iterable[Sequence[int]]) -> list[BaseMessage]:
        known = self._thread(thread_id, ns)
        ranges = [[int(start), int(end)] for start, end in spans]
        if ranges == known.last_spans:  # the list this process stored or read last
            return list(known.last)
        before = len(known.by_seq)
        for start, end in ranges:
            missing = [seq for seq in range(start, end) if seq not in known.by_seq]
            if missing:
                for seq, blob in await self.store.read(thread_id, ns, missing[0], missing[-1] + 1):
                    if seq not in known.by_seq:
                        known.add(seq, self.serde.loads_typed(blob))
        if len(known.by_seq) > before:
            self._kept_more(len(known.by_seq) - before)
        try:
            messages = [known.by_seq[seq] for start, end in ranges for seq in range(start, end)]
        except KeyError as gone:
            raise LookupError(f"thread {thread_id!r}: message {gone} of its log is missing from the "
                              "checkpointer's database (factory_messages)") from None
        known.remember(messages, ranges)
        return messages
