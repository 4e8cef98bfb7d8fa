"""Checkpointers by URL: `memory`, `sqlite:///file`, `postgres://...` (LangGraph's own savers)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

__all__ = ["CHECKPOINTER_ENV", "open_checkpointer", "resolve_checkpointer_url"]

CHECKPOINTER_ENV = "FACTORY_CHECKPOINTER"


def resolve_checkpointer_url(url: str | None) -> str:
    """`FACTORY_CHECKPOINTER` wins over the spec (it may hold a password the spec must not)."""
    return os.environ.get(CHECKPOINTER_ENV) or url or "memory"


@asynccontextmanager
async def open_checkpointer(url: str, *, base_dir: str | Path = ".") -> AsyncIterator[Any]:
    """Open the saver for `url` for the lifetime of the block; relative SQLite paths sit in `base_dir`."""
    if url == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        yield InMemorySaver()
    elif url.startswith("sqlite:///"):
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        file = Path(url.removeprefix("sqlite:///"))
        if not file.is_absolute():
            file = Path(base_dir) / file
        file.parent.mkdir(parents=True, exist_ok=True)
        async with AsyncSqliteSaver.from_conn_string(str(file)) as saver:
            await saver.setup()
            yield saver
    elif url.startswith(("postgres://", "postgresql://")):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(url) as saver:
            await saver.setup()
            yield saver
    else:
        raise ValueError(f"unknown checkpointer {url!r}; use memory, sqlite:///file or postgres://...")
