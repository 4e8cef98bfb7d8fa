"""`graphs.threads`: the thread table beside the checkpointer, the same behaviour on memory, SQLite
and Postgres (skipped without a Postgres, unless FACTORY_REQUIRE_POSTGRES=1)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from real_parts import postgres_or_skip

from graphs.threads import ThreadStore, metadata_contains, open_thread_store

PG_URL = os.environ.get("FACTORY_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test")


def _postgres() -> str:
    return postgres_or_skip(PG_URL)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'threads.sqlite'}"
    return _postgres()


def run(url: str, body: Callable[[ThreadStore], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with open_thread_store(url) as store:
            return await body(store)

    return asyncio.run(main())


def _ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{uuid.uuid4().hex[:8]}-{i}" for i in range(n)]


def test_create_get_update_delete(url: str) -> None:
    [tid] = _ids("crud", 1)

    async def body(store: ThreadStore) -> None:
        made = await store.create(tid, {"user": "ana", "tags": ["a"]})
        assert made is not None and made.metadata == {"user": "ana", "tags": ["a"]}
        assert await store.create(tid, {"other": 1}) is None  # exists: unchanged
        got = await store.get(tid)
        assert got == made
        updated = await store.update(tid, {"graph_id": "g", "user": "bo"})
        assert updated is not None and updated.metadata == {"user": "bo", "tags": ["a"], "graph_id": "g"}
        assert updated.created_at == made.created_at and updated.updated_at > made.updated_at
        assert await store.update("missing-" + tid) is None
        assert await store.delete(tid) and not await store.delete(tid)
        assert await store.get(tid) is None

    run(url, body)


def test_search_by_metadata_containment_sorted_and_paged(url: str) -> None:
    ids = _ids("search", 4)
    label = uuid.uuid4().hex

    async def body(store: ThreadStore) -> None:
        for i, tid in enumerate(ids):
            await store.create(tid, {"label": label, "graph_id": "a" if i % 2 else "b", "n": i,
                                     "who": {"name": "ana", "team": f"t{i}"}})
            await asyncio.sleep(0.002)
        found = await store.search(metadata={"label": label}, limit=10)
        assert [r.thread_id for r in found] == ids[::-1]  # newest first
        oldest = await store.search(metadata={"label": label}, limit=2, offset=1, descending=False)
        assert [r.thread_id for r in oldest] == ids[1:3]
        odd = await store.search(metadata={"label": label, "graph_id": "a"})
        assert [r.thread_id for r in odd] == [ids[3], ids[1]]
        nested = await store.search(metadata={"label": label, "who": {"team": "t2"}})
        assert [r.thread_id for r in nested] == [ids[2]]
        picked = await store.search(metadata={"label": label}, ids=[ids[0], "nope"])
        assert [r.thread_id for r in picked] == [ids[0]]
        assert await store.search(metadata={"label": label, "n": "1"}) == []  # "1" is not 1
        await store.update(ids[0])
        touched = await store.search(metadata={"label": label}, sort_by="updated_at", limit=1)
        assert touched[0].thread_id == ids[0]

    run(url, body)


def test_records_outlive_the_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'threads.sqlite'}"
    run(url, lambda store: store.create("kept", {"graph_id": "g"}))
    again = run(url, lambda store: store.get("kept"))
    assert again is not None and again.metadata == {"graph_id": "g"}


def test_two_stores_on_one_postgres_share_threads_and_lose_no_merge() -> None:
    url = _postgres()
    tid = _ids("shared", 1)[0]

    async def main() -> Any:
        one: AbstractAsyncContextManager[ThreadStore] = open_thread_store(url)
        two: AbstractAsyncContextManager[ThreadStore] = open_thread_store(url)
        async with one as a, two as b:
            await a.create(tid, {})
            await asyncio.gather(*(store.update(tid, {f"k{i}": i}) for i, store in enumerate([a, b] * 10)))
            return await b.get(tid)

    record = asyncio.run(main())
    assert record.metadata == {f"k{i}": i for i in range(20)}


def test_two_sqlite_connections_lose_no_merge(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'threads.sqlite'}"

    async def main() -> Any:
        async with open_thread_store(url) as a, open_thread_store(url) as b:
            await a.create("t", {})
            await asyncio.gather(*(store.update("t", {f"k{i}": i}) for i, store in enumerate([a, b] * 10)))
            return await a.get("t")

    assert asyncio.run(main()).metadata == {f"k{i}": i for i in range(20)}


@pytest.mark.parametrize(("metadata", "wanted", "expected"), [
    ({"a": 1, "b": 2}, {"a": 1}, True),
    ({"a": 1}, {"a": 1, "b": 2}, False),
    ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1}}, True),
    ({"a": [1, 2, 3]}, {"a": [3, 1]}, True),
    ({"a": [1, 2]}, {"a": [4]}, False),
    ({"a": 1}, {"a": True}, False),
    ({"a": 1}, {"a": 1.0}, True),
    ({"a": None}, {"a": None}, True),
    ({}, {}, True),
])
def test_metadata_containment(metadata: Any, wanted: Any, expected: bool) -> None:
    assert metadata_contains(metadata, wanted) is expected
