"""The message log (`graphs.message_log`): each message stored once, checkpoints that keep spans of
sequence numbers, and every way a thread's message list can change read back exactly, on the three
checkpointers (Postgres skipped when unreachable unless FACTORY_REQUIRE_POSTGRES=1)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, RemoveMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from real_parts import postgres_or_skip
from typing_extensions import TypedDict

from graphs.checkpointers import open_checkpointer
from graphs.message_log import LOG_KEY, MessageLogSaver, spans_of
from graphs.message_stores import PostgresMessageStore, SqliteMessageStore

POSTGRES_URL = os.environ.get("FACTORY_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
SHARED_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]  # several processes
EVERY_KIND = ["memory", *SHARED_KINDS]


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _echo(state: State) -> dict[str, Any]:
    return {"messages": [AIMessage(content=f"echo: {state['messages'][-1].text}")]}


def _graph(saver: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node("echo", _echo)
    builder.add_edge(START, "echo")
    builder.add_edge("echo", END)
    return builder.compile(checkpointer=saver)


def _url(kind: str, tmp_path: Path) -> str:
    if kind == "postgres":
        postgres_or_skip(POSTGRES_URL)
        return POSTGRES_URL
    return "memory" if kind == "memory" else f"sqlite:///{tmp_path / 'threads.sqlite'}"


def _config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


async def _turns(graph: Any, thread: str, texts: list[str]) -> None:
    for text in texts:
        await graph.ainvoke({"messages": [HumanMessage(content=text)]}, _config(thread), durability="exit")


async def _texts(graph: Any, thread: str) -> list[str]:
    return [m.text for m in (await graph.aget_state(_config(thread))).values["messages"]]


@asynccontextmanager
async def _saver(url: str) -> AsyncIterator[MessageLogSaver]:
    async with open_checkpointer(url) as saver:
        assert isinstance(saver, MessageLogSaver)
        yield saver


def test_spans_are_runs_of_consecutive_numbers() -> None:
    assert spans_of([3, 4, 5, 9, 10, 2]) == [[3, 6], [9, 11], [2, 3]]
    assert spans_of([]) == []


@pytest.mark.parametrize("kind", EVERY_KIND)
def test_each_message_is_stored_once_and_a_checkpoint_keeps_one_span(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        thread = f"log-{uuid.uuid4().hex}"
        async with _saver(_url(kind, tmp_path)) as saver:
            graph = _graph(saver)
            await _turns(graph, thread, [f"turn {i}" for i in range(30)])
            assert await _texts(graph, thread) == [t for i in range(30) for t in (f"turn {i}", f"echo: turn {i}")]
            raw = await saver.inner.aget_tuple(_config(thread))
            assert raw is not None
            ref = raw.checkpoint["channel_values"]["messages"]
            assert ref[LOG_KEY] == 1
            ((start, end),) = ref["spans"]
            assert end - start == 60
            rows = await saver.store.read(thread, "", start - 1000, end + 1000)
            assert [seq for seq, _ in rows] == list(range(start, end))  # 60 rows: nothing written twice

    asyncio.run(main())


def test_a_checkpoint_does_not_grow_with_the_thread(tmp_path: Path) -> None:
    file = tmp_path / "threads.sqlite"

    async def main() -> None:
        async with _saver(f"sqlite:///{file}") as saver:
            graph = _graph(saver)
            await _turns(graph, "long", ["x" * 500] * 5)
            await _turns(graph, "long", ["y" * 500] * 195)

    asyncio.run(main())
    with sqlite3.connect(file) as db:
        sizes = [size for (size,) in db.execute(
            "SELECT length(checkpoint) FROM checkpoints WHERE thread_id = 'long' ORDER BY checkpoint_id")]
        (stored,) = db.execute("SELECT count(*) FROM factory_messages WHERE thread_id = 'long'").fetchone()
    assert stored == 400
    assert len(sizes) >= 200
    assert max(sizes) < 2 * sizes[5], sizes  # turn 200's checkpoint is about turn 5's size, not 40x it


@pytest.mark.parametrize("kind", SHARED_KINDS)
def test_a_second_process_reads_and_continues_what_the_first_wrote(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        url, thread = _url(kind, tmp_path), f"two-{uuid.uuid4().hex}"
        async with _saver(url) as first, _saver(url) as second:
            await _turns(_graph(first), thread, ["a", "b"])
            assert await _texts(_graph(second), thread) == ["a", "echo: a", "b", "echo: b"]  # nothing cached
            await _turns(_graph(second), thread, ["c"])
            # the first still holds its own messages and reads only the new ones
            assert await _texts(_graph(first), thread) == ["a", "echo: a", "b", "echo: b", "c", "echo: c"]
            await _turns(_graph(first), thread, ["d"])
            assert (await _texts(_graph(second), thread))[-2:] == ["d", "echo: d"]

    asyncio.run(main())


@pytest.mark.parametrize("kind", EVERY_KIND)
def test_edits_removals_and_older_checkpoints_read_back_exactly(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        thread = f"edit-{uuid.uuid4().hex}"
        async with _saver(_url(kind, tmp_path)) as saver:
            graph = _graph(saver)
            await _turns(graph, thread, ["one", "two"])
            before = await graph.aget_state(_config(thread))
            first = before.values["messages"][0]
            edited = HumanMessage(content="one, edited", id=first.id)
            await graph.aupdate_state(_config(thread), {"messages": [edited]}, as_node="echo")
            assert await _texts(graph, thread) == ["one, edited", "echo: one", "two", "echo: two"]
            second = before.values["messages"][1]
            await graph.aupdate_state(_config(thread), {"messages": [RemoveMessage(id=second.id)]}, as_node="echo")
            assert await _texts(graph, thread) == ["one, edited", "two", "echo: two"]
            history = [[m.text for m in snap.values["messages"]]
                       async for snap in graph.aget_state_history(_config(thread))]
            assert ["one", "echo: one", "two", "echo: two"] in history  # the checkpoint before the edit
            # going back to a checkpoint (time travel) continues from its messages
            await graph.aupdate_state(before.config, None)
            await _turns(graph, thread, ["three"])
            assert await _texts(graph, thread) == ["one", "echo: one", "two", "echo: two", "three", "echo: three"]

    asyncio.run(main())


@pytest.mark.parametrize("kind", SHARED_KINDS)
def test_a_thread_deleted_and_made_again_is_not_mixed_with_cached_messages(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        url, thread = _url(kind, tmp_path), f"again-{uuid.uuid4().hex}"
        async with _saver(url) as first, _saver(url) as second:
            await _turns(_graph(first), thread, ["old"])
            assert await _texts(_graph(first), thread) == ["old", "echo: old"]  # cached by `first`
            await second.adelete_thread(thread)
            assert await second.store.read(thread, "", -(1 << 62), 1 << 62) == []
            await _turns(_graph(second), thread, ["new"])
            assert await _texts(_graph(first), thread) == ["new", "echo: new"]

    asyncio.run(main())


def test_a_checkpoint_of_the_old_layout_is_read_and_continued(tmp_path: Path) -> None:
    file = tmp_path / "threads.sqlite"

    async def main() -> None:
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        async with aiosqlite.connect(str(file)) as conn:  # LangGraph's saver alone: a plain list
            plain = AsyncSqliteSaver(conn)
            await plain.setup()
            await _turns(_graph(plain), "old", ["before"])
        async with _saver(f"sqlite:///{file}") as saver:
            graph = _graph(saver)
            assert await _texts(graph, "old") == ["before", "echo: before"]
            await _turns(graph, "old", ["after"])
            assert await _texts(graph, "old") == ["before", "echo: before", "after", "echo: after"]

    asyncio.run(main())


@pytest.mark.parametrize("kind", SHARED_KINDS)
def test_processes_appending_to_one_thread_never_share_a_number(kind: str, tmp_path: Path) -> None:
    url = _url(kind, tmp_path)

    async def main() -> None:
        thread = f"race-{uuid.uuid4().hex}"
        async with AsyncExitStack() as stack:
            if kind == "sqlite":
                file = tmp_path / "threads.sqlite"
                stores: list[Any] = [await stack.enter_async_context(SqliteMessageStore.open(file)) for _ in range(2)]
            else:
                stores = [await stack.enter_async_context(PostgresMessageStore.open(url)) for _ in range(2)]

            async def appends(store: Any, tag: str) -> list[list[int]]:
                blobs = [("raw", f"{tag}{i}".encode()) for i in range(3)]
                return [await store.append(thread, "", blobs, first_if_empty=100) for _ in range(20)]

            runs = await asyncio.gather(*(appends(store, tag) for store, tag in zip(stores, "ab", strict=True)))
            rows = await stores[0].read(thread, "", 0, 1 << 40)
            assert len(rows) == 120 == len({seq for seq, _ in rows})
            assert sorted(seq for run in runs for seqs in run for seq in seqs) == list(range(100, 220))
            assert all(seqs == list(range(seqs[0], seqs[0] + 3)) for run in runs for seqs in run)
            await stores[0].delete_thread(thread)

    asyncio.run(main())


def test_a_large_batch_is_appended_in_order(tmp_path: Path) -> None:
    async def main() -> None:
        async with SqliteMessageStore.open(tmp_path / "big.sqlite") as store:
            blobs = [("raw", str(i).encode()) for i in range(1234)]
            seqs = await store.append("big", "", blobs, first_if_empty=7)
            assert seqs == list(range(7, 7 + 1234))
            assert [raw for _, (_, raw) in await store.read("big", "", 0, 10_000)] == [raw for _, raw in blobs]

    asyncio.run(main())


def test_the_messages_kept_in_memory_stay_within_the_budget(tmp_path: Path) -> None:
    async def main() -> None:
        url = f"sqlite:///{tmp_path / 'threads.sqlite'}"
        async with _saver(url) as saver:
            saver.max_cached_messages = 10
            graph = _graph(saver)
            for name in ("a", "b", "c"):
                await _turns(graph, name, ["one", "two", "three"])  # six messages each
                kept = sum(len(known.by_seq) for known in saver._threads.values())
                assert kept == saver._kept <= 10 or len(saver._threads) == 1
            assert [key[0] for key in saver._threads] == ["c"]
            # a forgotten thread is read back from the database
            assert await _texts(graph, "a") == ["one", "echo: one", "two", "echo: two", "three", "echo: three"]
            assert [key[0] for key in saver._threads] == ["a"]  # 6 + 6 > 10: "c" was let go

    asyncio.run(main())
