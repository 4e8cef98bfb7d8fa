"""Checkpointers by URL: `memory`, `sqlite:///file`, `postgres://...` (LangGraph's own savers).

This module owns the URL grammar (`parse_checkpointer_url`) and which URL wins
(`choose_checkpointer_url`); every way of running an agent (`factory run`, `chat`, `serve`, the
image) asks it rather than reading the settings itself.

Precedence, first that is set: the `--checkpointer` flag, `$FACTORY_CHECKPOINTER` (it may hold a
password the spec must not), the spec's `serve.checkpointer`, `sqlite:///threads.sqlite`.
A relative SQLite path lives under `$FACTORY_DATA_DIR/<agent name>/` when that is set, else under
the caller's default folder (`.factory/<agent name>/` for the CLI, the plan's folder in the image).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from graphs.plan import SERVE_DEFAULTS

__all__ = [
    "CHECKPOINTER_ENV",
    "DATA_DIR_ENV",
    "CheckpointerKind",
    "CheckpointerUrl",
    "choose_checkpointer_url",
    "open_checkpointer",
    "parse_checkpointer_url",
    "postgres_tables",
    "sqlite_tables",
]

CHECKPOINTER_ENV = "FACTORY_CHECKPOINTER"
DATA_DIR_ENV = "FACTORY_DATA_DIR"
CheckpointerKind = Literal["memory", "sqlite", "postgres"]
_SQLITE = "sqlite:///"
_POSTGRES = ("postgres://", "postgresql://")
GRAMMAR = "memory, sqlite:///file or postgres://user@host/db"


@dataclass(frozen=True, slots=True)
class CheckpointerUrl:
    """A parsed checkpointer URL; `path` is the SQLite file as written (relative or absolute)."""

    kind: CheckpointerKind
    url: str
    path: str | None = None

    @property
    def redacted(self) -> str:
        """The URL without its password, for messages and logs."""
        if self.kind != "postgres" or "@" not in self.url:
            return self.url
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://...@{rest.rsplit('@', 1)[1]}"


def parse_checkpointer_url(url: str) -> CheckpointerUrl:
    """Raises `ValueError` (naming the grammar) for anything but the three known forms."""
    if url == "memory":
        return CheckpointerUrl("memory", url)
    if url.startswith(_SQLITE) and len(url) > len(_SQLITE):
        return CheckpointerUrl("sqlite", url, url.removeprefix(_SQLITE))
    if url.startswith(_POSTGRES):
        return CheckpointerUrl("postgres", url)
    shown = url.split("://")[0] + "://" if "://" in url else url
    raise ValueError(f"unknown checkpointer {shown!r}; use {GRAMMAR}")


def choose_checkpointer_url(*, flag: str | None, spec: str | None, agent: str, default_root: str | Path) -> str:
    """The URL to open, by the precedence above, with a relative SQLite path made absolute.

    Raises:
        ValueError: the winning URL is not in the grammar.
    """
    url = flag or os.environ.get(CHECKPOINTER_ENV) or spec or SERVE_DEFAULTS["checkpointer"]
    parsed = parse_checkpointer_url(url)
    if parsed.kind == "sqlite" and parsed.path is not None and not Path(parsed.path).is_absolute():
        data_dir = os.environ.get(DATA_DIR_ENV)
        root = Path(data_dir) / agent if data_dir else Path(default_root)
        return f"{_SQLITE}{(root / parsed.path).resolve()}"
    return url


@asynccontextmanager
async def open_checkpointer(url: str, *, base_dir: str | Path = ".") -> AsyncIterator[Any]:
    """Open the saver for `url` for the lifetime of the block; relative SQLite paths sit in `base_dir`.

    LangGraph's saver, wrapped so that a thread's messages are stored once each
    (`graphs.message_log`): a turn's write does not grow with the thread's history.
    """
    from graphs.message_log import MessageLogSaver
    from graphs.message_stores import MemoryMessageStore, PostgresMessageStore, SqliteMessageStore

    parsed = parse_checkpointer_url(url)
    if parsed.kind == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        yield MessageLogSaver(InMemorySaver(), MemoryMessageStore())
    elif parsed.kind == "sqlite":
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        file = Path(parsed.path or "")
        if not file.is_absolute():
            file = Path(base_dir) / file
        file.parent.mkdir(parents=True, exist_ok=True)
        async with aiosqlite.connect(str(file)) as conn:
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
            async with SqliteMessageStore.open(file) as store:
                yield MessageLogSaver(saver, store)
    else:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(url) as postgres, PostgresMessageStore.open(url) as store:
            await postgres.setup()
            yield MessageLogSaver(postgres, store)


@asynccontextmanager
async def sqlite_tables(file: Path, *ddl: str) -> AsyncIterator[Any]:
    """A connection of its own to the checkpointer's SQLite file, for the tables beside LangGraph's
    (`graphs.threads`, `graphs.message_stores`): autocommit, WAL (a commit need not wait for the
    disk: a power cut may lose the last records, never corrupt the file), a 10 s wait for a lock
    another process holds, and `ddl` run first."""
    import aiosqlite

    file.parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(str(file), isolation_level=None) as conn:
        for pragma in ("busy_timeout = 10000", "journal_mode = WAL", "synchronous = NORMAL"):
            await conn.execute(f"PRAGMA {pragma}")
        for statement in ddl:
            await conn.execute(statement)
        yield conn


@asynccontextmanager
async def postgres_tables(url: str, name: str, *ddl: str) -> AsyncIterator[Any]:
    """A connection of its own (autocommit) to the checkpointer's Postgres database, with `ddl` run
    under an advisory lock on `name`: replicas starting together, one creates, the others wait."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
            for statement in ddl:
                await conn.execute(statement)
        yield conn
