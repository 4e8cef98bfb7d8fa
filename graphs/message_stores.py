"""Where `graphs.message_log` keeps each thread's messages: one store per checkpointer kind.

A row is (thread id, checkpoint namespace, sequence number, serializer type, bytes). `append` gives
the new rows the numbers after the thread's last (or `first_if_empty` for a thread with none) in one
atomic step, so two processes appending to one thread never take the same numbers.

- `memory`: a dict, gone with the process like the memory checkpointer;
- `sqlite:///file`: a table in that file, appended in one statement;
- `postgres://...`: a table every replica shares, appended under a transaction-level advisory lock
  on the thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from graphs.checkpointers import postgres_tables, sqlite_tables

__all__ = [
    "TABLE",
    "MemoryMessageStore",
    "MessageStore",
    "PostgresMessageStore",
    "SqliteMessageStore",
]

TABLE = "factory_messages"
Blob = tuple[str, bytes]


class MessageStore(Protocol):
    async def append(self, thread_id: str, ns: str, blobs: list[Blob], *, first_if_empty: int) -> list[int]:
        """Store `blobs` after the thread's last number (from `first_if_empty` on a thread with none);
        returns their numbers, in order."""
        ...

    async def read(self, thread_id: str, ns: str, start: int, end: int) -> list[tuple[int, Blob]]:
        """The rows numbered `start <= seq < end` that exist."""
        ...

    async def delete_thread(self, thread_id: str) -> None: ...


class MemoryMessageStore:
    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], dict[int, Blob]] = {}

    async def append(self, thread_id: str, ns: str, blobs: list[Blob], *, first_if_empty: int) -> list[int]:
        rows = self._rows.setdefault((thread_id, ns), {})
        first = max(rows) + 1 if rows else first_if_empty
        rows.update(zip(range(first, first + len(blobs)), blobs, strict=True))
        return list(range(first, first + len(blobs)))

    async def read(self, thread_id: str, ns: str, start: int, end: int) -> list[tuple[int, Blob]]:
        rows = self._rows.get((thread_id, ns), {})
        return [(seq, rows[seq]) for seq in range(start, end) if seq in rows]

    async def delete_thread(self, thread_id: str) -> None:
        for key in [key for key in self._rows if key[0] == thread_id]:
            del self._rows[key]


_COLUMNS = "thread_id TEXT NOT NULL, checkpoint_ns TEXT NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL"
_KEY = "PRIMARY KEY (thread_id, checkpoint_ns, seq)"
_BATCH = 500  # rows per INSERT (three variables each: SQLite allows 32,766)
_READ = f"SELECT seq, kind, blob FROM {TABLE} WHERE thread_id = ? AND checkpoint_ns = ? AND seq >= ? AND seq < ?"


class SqliteMessageStore:
    """Rows in the checkpointer's SQLite file, on a connection of their own."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()  # one transaction at a time on this connection

    @classmethod
    @asynccontextmanager
    async def open(cls, file: Path) -> AsyncIterator[SqliteMessageStore]:
        ddl = f"CREATE TABLE IF NOT EXISTS {TABLE} ({_COLUMNS}, blob BLOB NOT NULL, {_KEY})"
        async with sqlite_tables(file, ddl) as conn:
            yield cls(conn)

    async def append(self, thread_id: str, ns: str, blobs: list[Blob], *, first_if_empty: int) -> list[int]:
        # One statement per batch, so one round trip to the connection's thread: SQLite takes the
        # write lock before the statement reads the thread's last number, so no process can take it.
        seqs: list[int] = []
        for start in range(0, len(blobs), _BATCH):
            batch = blobs[start:start + _BATCH]
            sql = (f"INSERT INTO {TABLE} SELECT ?, ?, base.first + row.column1, row.column2, row.column3 "
                   f"FROM (VALUES {', '.join(['(?, ?, ?)'] * len(batch))}) AS row, "
                   f"(SELECT coalesce(max(seq) + 1, ?) AS first FROM {TABLE} "
                   "WHERE thread_id = ? AND checkpoint_ns = ?) AS base RETURNING seq")
            args: list[Any] = [thread_id, ns]
            for index, (kind, raw) in enumerate(batch):
                args += [index, kind, raw]
            args += [first_if_empty, thread_id, ns]
            async with self._lock:
                seqs += sorted(seq for (seq,) in await self._conn.execute_fetchall(sql, args))
        return seqs

    async def read(self, thread_id: str, ns: str, start: int, end: int) -> list[tuple[int, Blob]]:
        async with self._lock, self._conn.execute(_READ, (thread_id, ns, start, end)) as cursor:
            return [(seq, (kind, bytes(raw))) for seq, kind, raw in await cursor.fetchall()]

    async def delete_thread(self, thread_id: str) -> None:
        async with self._lock:
            await self._conn.execute(f"DELETE FROM {TABLE} WHERE thread_id = ?", (thread_id,))


class PostgresMessageStore:
    """Rows in a table every replica shares, on a connection of their own."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()  # one transaction at a time on this connection

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str) -> AsyncIterator[PostgresMessageStore]:
        ddl = f"CREATE TABLE IF NOT EXISTS {TABLE} ({_COLUMNS}, blob BYTEA NOT NULL, {_KEY})"
        async with postgres_tables(url, TABLE, ddl) as conn:
            yield cls(conn)

    async def append(self, thread_id: str, ns: str, blobs: list[Blob], *, first_if_empty: int) -> list[int]:
        sql = (
            f"INSERT INTO {TABLE} SELECT %(thread)s, %(ns)s, base.first + row.n - 1, row.kind, row.blob "
            "FROM unnest(%(kinds)s::text[], %(blobs)s::bytea[]) WITH ORDINALITY AS row(kind, blob, n), "
            f"(SELECT coalesce(max(seq) + 1, %(empty)s) AS first FROM {TABLE} "
            " WHERE thread_id = %(thread)s AND checkpoint_ns = %(ns)s) AS base RETURNING seq"
        )
        args = {"thread": thread_id, "ns": ns, "empty": first_if_empty,
                "kinds": [kind for kind, _ in blobs], "blobs": [raw for _, raw in blobs]}
        async with self._lock, self._conn.transaction():
            # the thread's appends, on every replica, one after another (the two-key advisory locks
            # are a key space apart from the thread locks' one-key ones: `graphs.locks`)
            await self._conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))",
                                     (TABLE, f"{thread_id}/{ns}"))
            cursor = await self._conn.execute(sql, args)
            return sorted(row[0] for row in await cursor.fetchall())

    async def read(self, thread_id: str, ns: str, start: int, end: int) -> list[tuple[int, Blob]]:
        async with self._lock:
            cursor = await self._conn.execute(_READ.replace("?", "%s"), (thread_id, ns, start, end))
            return [(seq, (kind, bytes(raw))) for seq, kind, raw in await cursor.fetchall()]

    async def delete_thread(self, thread_id: str) -> None:
        async with self._lock:
            await self._conn.execute(f"DELETE FROM {TABLE} WHERE thread_id = %s", (thread_id,))
