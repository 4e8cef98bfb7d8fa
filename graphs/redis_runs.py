"""Run records and run streams in Redis (`serve.broker`), shared by every replica.

The same interfaces as the in-process ones (`graphs.runs.RunStore`, `RunStream`), so no route
changes: a run started on one replica can be read, joined (`Last-Event-ID`), waited for and
cancelled through any other.

- Records: one JSON value per run (`<prefix>run:<id>`) and, per thread, a sorted set of its run ids
  by creation time. Finished records expire after `FINISHED_TTL_S`.
- Frames: one Redis stream per run (`XADD`; the entry id is the frame id a client sends back as
  `Last-Event-ID`), read with blocking `XREAD`. `open` writes a marker entry (so the key exists
  before the first frame), `close` an end entry, after which the stream is kept `keep_s` seconds
  (at least `MIN_KEEP_S`, so a slow reader still sees the end).
- Liveness: the process that runs a run refreshes `<prefix>alive:<id>` every `HEARTBEAT_S`; a run
  whose process died (`kill -9`) has no end entry but loses that key, so its readers stop and the
  thread's active run is no longer reported as running.
- Cancel: `PUBLISH` on `<prefix>cancel`; every replica listens and cancels the run if it runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from graphs.runs import ACTIVE, TAIL, CancelHooks, RunRecord, RunStatus, StreamItem

__all__ = ["HEARTBEAT_S", "RedisRunStore", "RedisRunStream"]

log = logging.getLogger("graphs.redis_runs")

HEARTBEAT_S = 2.0
ALIVE_TTL_S = 3 * HEARTBEAT_S
FINISHED_TTL_S = 24 * 3600
MIN_KEEP_S = 60.0
_ID = re.compile(r"^\d+-\d+$")
_MARK, _END = b"open", b"end"


def _encode(run: RunRecord) -> bytes:
    data = asdict(run)
    data["created_at"], data["updated_at"] = run.created_at.isoformat(), run.updated_at.isoformat()
    return json.dumps(data, default=str).encode()


def _decode(raw: bytes) -> RunRecord:
    data = json.loads(raw)
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    data["updated_at"] = datetime.fromisoformat(data["updated_at"])
    return RunRecord(**data)


class RedisRunStore:
    """Run records in Redis, under `prefix` (one prefix per agent)."""

    def __init__(self, redis: Any, *, prefix: str) -> None:
        self.redis, self.prefix = redis, prefix

    def _run(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}"

    def _thread(self, thread_id: str) -> str:
        return f"{self.prefix}thread-runs:{thread_id}"

    async def put(self, run: RunRecord) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._run(run.run_id), _encode(run))
            pipe.zadd(self._thread(run.thread_id), {run.run_id: run.created_at.timestamp()})
            await pipe.execute()

    async def get(self, run_id: str) -> RunRecord | None:
        raw = await self.redis.get(self._run(run_id))
        if raw is None:
            return None
        run = _decode(raw)
        if run.status in ACTIVE and not await self.redis.exists(f"{self.prefix}alive:{run_id}"):
            return replace(run, status="error", error={"error": "internal_error",
                                                       "message": "the replica running it stopped"})
        return run

    async def finish(self, run_id: str, status: RunStatus, *, error: dict[str, Any] | None = None) -> None:
        raw = await self.redis.get(self._run(run_id))
        if raw is None:
            return
        run = replace(_decode(raw), status=status, error=error, updated_at=datetime.now(UTC))
        await self.redis.set(self._run(run_id), _encode(run), ex=FINISHED_TTL_S)

    async def list(
        self, thread_id: str, *, limit: int, offset: int, status: RunStatus | None = None
    ) -> list[RunRecord]:
        ids = await self.redis.zrevrange(self._thread(thread_id), 0, -1)
        runs = [run for run in [await self.get(i.decode()) for i in ids] if run is not None]
        runs = [r for r in runs if status is None or r.status == status]
        return runs[offset:offset + limit]

    async def active(self, thread_id: str) -> RunRecord | None:
        for run in await self.list(thread_id, limit=1000, offset=0):
            if run.status in ACTIVE:
                return run
        return None

    async def forget_thread(self, thread_id: str) -> None:
        ids = await self.redis.zrange(self._thread(thread_id), 0, -1)
        await self.redis.delete(self._thread(thread_id), *(self._run(i.decode()) for i in ids))


class RedisRunStream:
    """Each run's frames as a Redis stream; `start()` begins the heartbeat and the cancel listener."""

    def __init__(self, redis: Any, *, prefix: str, block_ms: int = 1000) -> None:
        self.redis, self.prefix, self.block_ms = redis, prefix, block_ms
        self._keep: dict[str, float] = {}
        self._cancels = CancelHooks()
        self._tasks: list[asyncio.Task[None]] = []

    def _key(self, run_id: str) -> str:
        return f"{self.prefix}stream:{run_id}"

    def _alive(self, run_id: str) -> str:
        return f"{self.prefix}alive:{run_id}"

    async def start(self) -> None:
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(f"{self.prefix}cancel")
        self._tasks = [asyncio.create_task(self._heartbeat(), name="run-heartbeat"),
                       asyncio.create_task(self._listen(pubsub), name="run-cancel-listener")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _heartbeat(self) -> None:
        while True:
            if self._keep:
                with contextlib.suppress(Exception):
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for run_id in list(self._keep):
                            pipe.set(self._alive(run_id), b"1", ex=int(ALIVE_TTL_S))
                        await pipe.execute()
            await asyncio.sleep(HEARTBEAT_S)

    async def _listen(self, pubsub: Any) -> None:
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    self._cancels.fire(message["data"].decode())
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def open(self, run_id: str, *, keep_s: float) -> None:
        self._keep[run_id] = keep_s
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._alive(run_id), b"1", ex=int(ALIVE_TTL_S))
            pipe.xadd(self._key(run_id), {b"m": _MARK})
            await pipe.execute()

    async def publish(self, run_id: str, event: str, data: bytes) -> str:
        entry = await self.redis.xadd(self._key(run_id), {b"e": event.encode(), b"d": data})
        return str(entry.decode() if isinstance(entry, bytes) else entry)

    async def close(self, run_id: str) -> None:
        keep = max(self._keep.pop(run_id, 0.0), MIN_KEEP_S)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self._key(run_id), {b"m": _END})
            pipe.expire(self._key(run_id), int(keep))
            pipe.delete(self._alive(run_id))
            await pipe.execute()

    def subscribe(self, run_id: str, *, after: str | None = None) -> AsyncIterator[list[StreamItem]]:
        if after is not None and after not in (TAIL, "-1") and not _ID.match(after):
            raise ValueError(f"{after!r} is not an event id of this server (an id it sent, or -1 for the start)")
        return self._follow(run_id, after)

    async def _follow(self, run_id: str, after: str | None) -> AsyncIterator[list[StreamItem]]:
        key = self._key(run_id)
        if after == TAIL:
            last = await self.redis.xrevrange(key, count=1)
            if not last:
                return
            cursor = last[0][0]
            if last[0][1].get(b"m") == _END:
                return
        else:
            if not await self.redis.exists(key):
                return
            cursor = b"0-0" if after in (None, "-1") else after.encode()
        while True:
            answer = await self.redis.xread({key: cursor}, block=self.block_ms, count=100)
            if not answer:
                if not await self.redis.exists(self._alive(run_id)) or not await self.redis.exists(key):
                    return  # the process running it is gone, or the frames expired
                continue
            ready: list[StreamItem] = []
            ended = False
            for entry_id, fields in answer[0][1]:
                cursor = entry_id
                mark = fields.get(b"m")
                if mark == _END:
                    ended = True
                    break
                if mark is None:
                    ready.append(StreamItem(entry_id.decode(), fields[b"e"].decode(), fields[b"d"]))
            if ready:
                yield ready
            if ended:
                return

    async def request_cancel(self, run_id: str) -> None:
        await self.redis.publish(f"{self.prefix}cancel", run_id.encode())

    def on_cancel(self, run_id: str, callback: Callable[[], object]) -> Callable[[], None]:
        return self._cancels.add(run_id, callback)
