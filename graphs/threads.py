"""The thread table: which threads exist, when they were made and touched, and their metadata.

The checkpointer keeps what a thread *holds*; clients of the Agent Server API also create threads
before their first run, label them with metadata and search them (Agent Chat UI lists a graph's
threads by `metadata.graph_id`). That small record lives in a table `factory_threads` in the same
database as the checkpointer, so it persists exactly as the threads do:

- `memory`: a dict (gone with the process, like the memory checkpointer);
- `sqlite:///file`: a table in that file;
- `postgres://...`: a table (JSONB metadata, containment search, atomic merges), shared by every
  replica on that database.

`open_thread_store(url)` opens the one that fits a checkpointer URL (`graphs.checkpointers` owns
the grammar). Metadata filters mean containment, as in Postgres's `@>`: `{"graph_id": "sales"}`
matches every thread whose metadata holds that pair.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from graphs.checkpointers import parse_checkpointer_url, postgres_tables, sqlite_tables

__all__ = [
    "TABLE",
    "MemoryThreadStore",
    "PostgresThreadStore",
    "SqliteThreadStore",
    "ThreadRecord",
    "ThreadSort",
    "ThreadStore",
    "metadata_contains",
    "open_thread_store",
]

TABLE = "factory_threads"
ThreadSort = Literal["thread_id", "created_at", "updated_at"]


@dataclass(frozen=True, slots=True)
class ThreadRecord:
    thread_id: str
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any]


class ThreadStore(Protocol):
    """Thread records. Every method is one atomic step (safe with several replicas on Postgres)."""

    async def create(self, thread_id: str, metadata: dict[str, Any]) -> ThreadRecord | None:
        """A new record; None when the thread already exists (nothing is changed then)."""
        ...

    async def get(self, thread_id: str) -> ThreadRecord | None: ...

    async def update(self, thread_id: str, metadata: dict[str, Any] | None = None) -> ThreadRecord | None:
        """Merge `metadata` into the record's (top-level keys replace) and touch `updated_at`;
        None when the thread does not exist."""
        ...

    async def delete(self, thread_id: str) -> bool: ...

    async def search(
        self,
        *,
        metadata: dict[str, Any] | None = None,
        ids: list[str] | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: ThreadSort = "created_at",
        descending: bool = True,
    ) -> list[ThreadRecord]:
        """The records whose metadata contains `metadata` (and whose id is in `ids`), sorted, paged."""
        ...


def metadata_contains(metadata: Any, wanted: Any) -> bool:
    """JSON containment (Postgres's `@>`): objects by key, arrays by element, scalars by value."""
    if isinstance(wanted, dict):
        return isinstance(metadata, dict) and all(
            key in metadata and metadata_contains(metadata[key], value) for key, value in wanted.items()
        )
    if isinstance(wanted, list):
        return isinstance(metadata, list) and all(any(metadata_contains(m, w) for m in metadata) for w in wanted)
    if isinstance(wanted, bool) or isinstance(metadata, bool):
        return isinstance(wanted, bool) and isinstance(metadata, bool) and wanted == metadata
    return bool(type(wanted) is type(metadata) or (
        isinstance(wanted, int | float) and isinstance(metadata, int | float))) and wanted == metadata


def _now() -> datetime:
    return datetime.now(UTC)


def _page(records: list[ThreadRecord], *, metadata: dict[str, Any] | None, ids: list[str] | None,
          limit: int, offset: int, sort_by: ThreadSort, descending: bool) -> list[ThreadRecord]:
    wanted = set(ids) if ids else None
    found = [r for r in records if (wanted is None or r.thread_id in wanted)
             and (not metadata or metadata_contains(r.metadata, metadata))]
    found.sort(key=lambda r: (getattr(r, sort_by), r.thread_id), reverse=descending)
    return found[offset:offset + limit]


class MemoryThreadStore:
    """Records in a dict: for the `memory` checkpointer (both are gone with the process)."""

    def __init__(self) -> None:
        self._records: dict[str, ThreadRecord] = {}

    async def create(self, thread_id: str, metadata: dict[str, Any]) -> ThreadRecord | None:
        if thread_id in self._records:
            return None
        now = _now()
        record = self._records[thread_id] = ThreadRecord(thread_id, now, now, dict(metadata))
        return record

    async def get(self, thread_id: str) -> ThreadRecord | None:
        return self._records.get(thread_id)

    async def update(self, thread_id: str, metadata: dict[str, Any] | None = None) -> ThreadRecord | None:
        old = self._records.get(thread_id)
        if old is None:
            return None
        record = self._records[thread_id] = ThreadRecord(
            thread_id, old.created_at, _now(), {**old.metadata, **(metadata or {})})
        return record

    async def delete(self, thread_id: str) -> bool:
        return self._records.pop(thread_id, None) is not None

    async def search(self, *, metadata: dict[str, Any] | None = None, ids: list[str] | None = None, limit: int = 10,
                     offset: int = 0, sort_by: ThreadSort = "created_at",
                     descending: bool = True) -> list[ThreadRecord]:
        return _page(list(self._records.values()), metadata=metadata, ids=ids, limit=limit, offset=offset,
                     sort_by=sort_by, descending=descending)


_STAMP = "%Y-%m-%dT%H:%M:%S.%f+00:00"  # fixed width: the text sorts as the time does


class SqliteThreadStore:
    """Records in the checkpointer's SQLite file. Writes are `BEGIN IMMEDIATE` transactions, so
    processes sharing the file (several workers on one host) merge metadata without losing a write."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()  # one transaction at a time on this connection

    @classmethod
    @asynccontextmanager
    async def open(cls, file: Path) -> AsyncIterator[SqliteThreadStore]:
        ddl = (f"CREATE TABLE IF NOT EXISTS {TABLE} (thread_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, "
               "updated_at TEXT NOT NULL, metadata TEXT NOT NULL)")
        async with sqlite_tables(file, ddl) as conn:
            yield cls(conn)

    @staticmethod
    def _record(row: Any) -> ThreadRecord:
        return ThreadRecord(row[0], datetime.strptime(row[1], _STAMP).replace(tzinfo=UTC),
                            datetime.strptime(row[2], _STAMP).replace(tzinfo=UTC), json.loads(row[3]))

    async def _one(self, sql: str, args: tuple[Any, ...]) -> Any:
        async with self._conn.execute(sql, args) as cursor:
            return await cursor.fetchone()

    async def create(self, thread_id: str, metadata: dict[str, Any]) -> ThreadRecord | None:
        now = _now().strftime(_STAMP)
        async with self._lock:
            row = await self._one(
                f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?) ON CONFLICT (thread_id) DO NOTHING "
                "RETURNING thread_id, created_at, updated_at, metadata",
                (thread_id, now, now, json.dumps(metadata)),
            )
        return None if row is None else self._record(row)

    async def get(self, thread_id: str) -> ThreadRecord | None:
        async with self._lock:
            row = await self._one(f"SELECT * FROM {TABLE} WHERE thread_id = ?", (thread_id,))
        return None if row is None else self._record(row)

    async def update(self, thread_id: str, metadata: dict[str, Any] | None = None) -> ThreadRecord | None:
        if not metadata:  # a touch: one statement
            async with self._lock:
                row = await self._one(
                    f"UPDATE {TABLE} SET updated_at = ? WHERE thread_id = ? "
                    "RETURNING thread_id, created_at, updated_at, metadata", (_now().strftime(_STAMP), thread_id))
            return None if row is None else self._record(row)
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = await self._one(f"SELECT metadata FROM {TABLE} WHERE thread_id = ?", (thread_id,))
                if row is not None:
                    merged = {**json.loads(row[0]), **(metadata or {})}
                    row = await self._one(
                        f"UPDATE {TABLE} SET metadata = ?, updated_at = ? WHERE thread_id = ? "
                        "RETURNING thread_id, created_at, updated_at, metadata",
                        (json.dumps(merged), _now().strftime(_STAMP), thread_id),
                    )
                await self._conn.execute("COMMIT")
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
        return None if row is None else self._record(row)

    async def delete(self, thread_id: str) -> bool:
        async with self._lock:
            row = await self._one(f"DELETE FROM {TABLE} WHERE thread_id = ? RETURNING thread_id", (thread_id,))
        return row is not None

    async def search(self, *, metadata: dict[str, Any] | None = None, ids: list[str] | None = None, limit: int = 10,
                     offset: int = 0, sort_by: ThreadSort = "created_at",
                     descending: bool = True) -> list[ThreadRecord]:
        # Containment is checked here, not in SQL: SQLite has no `@>`, and one file holds few threads.
        async with self._lock, self._conn.execute(f"SELECT * FROM {TABLE}") as cursor:
            rows = await cursor.fetchall()
        return _page([self._record(r) for r in rows], metadata=metadata, ids=ids, limit=limit, offset=offset,
                     sort_by=sort_by, descending=descending)


class PostgresThreadStore:
    """Records in a Postgres table every replica shares: each method is one statement."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str) -> AsyncIterator[PostgresThreadStore]:
        table = (f"CREATE TABLE IF NOT EXISTS {TABLE} (thread_id TEXT PRIMARY KEY, created_at TIMESTAMPTZ NOT NULL, "
                 "updated_at TIMESTAMPTZ NOT NULL, metadata JSONB NOT NULL DEFAULT '{}')")
        index = f"CREATE INDEX IF NOT EXISTS {TABLE}_metadata ON {TABLE} USING gin (metadata)"
        async with postgres_tables(url, TABLE, table, index) as conn:
            yield cls(conn)

    async def _one(self, sql: str, args: tuple[Any, ...]) -> ThreadRecord | None:
        cursor = await self._conn.execute(sql, args)
        row = await cursor.fetchone()
        return None if row is None else ThreadRecord(*row)

    async def create(self, thread_id: str, metadata: dict[str, Any]) -> ThreadRecord | None:
        from psycopg.types.json import Jsonb

        return await self._one(
            f"INSERT INTO {TABLE} VALUES (%s, now(), now(), %s) ON CONFLICT (thread_id) DO NOTHING "
            "RETURNING thread_id, created_at, updated_at, metadata",
            (thread_id, Jsonb(metadata)),
        )

    async def get(self, thread_id: str) -> ThreadRecord | None:
        return await self._one(
            f"SELECT thread_id, created_at, updated_at, metadata FROM {TABLE} WHERE thread_id = %s", (thread_id,))

    async def update(self, thread_id: str, metadata: dict[str, Any] | None = None) -> ThreadRecord | None:
        from psycopg.types.json import Jsonb

        return await self._one(
            f"UPDATE {TABLE} SET metadata = metadata || %s, updated_at = now() WHERE thread_id = %s "
            "RETURNING thread_id, created_at, updated_at, metadata",
            (Jsonb(metadata or {}), thread_id),
        )

    async def delete(self, thread_id: str) -> bool:
        cursor = await self._conn.execute(f"DELETE FROM {TABLE} WHERE thread_id = %s", (thread_id,))
        return bool(cursor.rowcount)

    async def search(self, *, metadata: dict[str, Any] | None = None, ids: list[str] | None = None, limit: int = 10,
                     offset: int = 0, sort_by: ThreadSort = "created_at",
                     descending: bool = True) -> list[ThreadRecord]:
        from psycopg.types.json import Jsonb

        assert sort_by in ("thread_id", "created_at", "updated_at")  # a column name, never user text
        order = "DESC" if descending else "ASC"
        cursor = await self._conn.execute(
            f"SELECT thread_id, created_at, updated_at, metadata FROM {TABLE} "
            "WHERE metadata @> %s AND (%s::text[] IS NULL OR thread_id = ANY(%s)) "
            f"ORDER BY {sort_by} {order}, thread_id {order} LIMIT %s OFFSET %s",
            (Jsonb(metadata or {}), ids, ids, limit, offset),
        )
        return [ThreadRecord(*row) for row in await cursor.fetchall()]


@asynccontextmanager
async def open_thread_store(url: str, *, base_dir: str | Path = ".") -> AsyncIterator[ThreadStore]:
    """The thread store in the database of the checkpointer `url` (relative SQLite paths in `base_dir`)."""
    parsed = parse_checkpointer_url(url)
    if parsed.kind == "memory":
        yield MemoryThreadStore()
    elif parsed.kind == "sqlite":
        file = Path(parsed.path or "")
        async with SqliteThreadStore.open(file if file.is_absolute() else Path(base_dir) / file) as store:
            yield store
    else:
        async with PostgresThreadStore.open(url) as pg:
            yield pg
