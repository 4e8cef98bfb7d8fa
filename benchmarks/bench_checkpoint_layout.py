"""Checkpoint layouts for a long thread: what one turn costs as the thread grows, and the file size.

One thread on SQLite, `--turns` turns (default 1,000) of a two-node graph (a counter, then a reply
of 51 words), each turn as the server takes it (read the state, run with `durability="exit"`, read
the state again), in three layouts, one after another:

- `plain`: LangGraph's `AsyncSqliteSaver` with `add_messages` (every checkpoint holds every message);
- `delta_channel`: LangGraph's own beta `DeltaChannel` for `messages` (checkpoints hold a sentinel,
  a read replays the writes since the last snapshot, a snapshot every 100 updates);
- `message_log`: ours (`graphs.message_log`: each message stored once, checkpoints hold spans).

It reports the process CPU per turn over the 10 turns up to turn 10 and the 100 up to 100, 500
and 1,000, and the database's size at the end. No model and no HTTP: this is the checkpointer's
share of a turn alone (`bench_history.py` measures the whole served turn).

    .venv/bin/python benchmarks/bench_checkpoint_layout.py [--turns 1000]

Writes `benchmarks/results/checkpoint_layout.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.channels.delta import DeltaChannel
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from graphs.checkpointers import open_checkpointer  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "checkpoint_layout.json"
MARKS = (10, 100, 500, 1000)
REPLY = " ".join(f"word{i}" for i in range(51))


def _add_batches(messages: list[Any], batches: Sequence[Any]) -> list[Any]:
    for batch in batches:
        messages = add_messages(messages, batch)
    return messages


class PlainState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    turns: int


class DeltaState(TypedDict):
    messages: Annotated[list[AnyMessage], DeltaChannel(_add_batches)]
    turns: int


def _graph(schema: type, saver: Any) -> Any:
    builder = StateGraph(schema)
    builder.add_node("count", lambda state: {"turns": state.get("turns", 0) + 1})
    builder.add_node("answer", lambda state: {"messages": [AIMessage(content=REPLY)]})
    builder.add_edge(START, "count")
    builder.add_edge("count", "answer")
    builder.add_edge("answer", END)
    return builder.compile(checkpointer=saver)


async def _turns(graph: Any, turns: int, name: str) -> dict[str, float]:
    """CPU per turn (ms) over the 10 turns up to each mark (100 past the first)."""
    config = {"configurable": {"thread_id": "long"}}
    cpu = [time.process_time()]  # cpu[n]: after turn n
    rows: dict[str, float] = {}
    for turn in range(1, turns + 1):
        await graph.aget_state(config)
        await graph.ainvoke({"messages": [HumanMessage(content=f"Turn {turn}: tell me more.")]}, config,
                            durability="exit")
        await graph.aget_state(config)
        cpu.append(time.process_time())
        if turn in MARKS or turn == turns:
            span = min(turn, 10 if turn <= 10 else 100)
            rows[str(turn)] = round((cpu[turn] - cpu[turn - span]) * 1000 / span, 2)
            print(f"{name:14s} turn {turn:5d}  CPU per turn {rows[str(turn)]:7.2f} ms", flush=True)
    state = await graph.aget_state(config)
    assert len(state.values["messages"]) == 2 * turns
    return rows


async def _layout(name: str, turns: int, folder: Path) -> dict[str, Any]:
    file = folder / f"{name}.sqlite"
    if name == "message_log":
        async with open_checkpointer(f"sqlite:///{file}") as saver:
            rows = await _turns(_graph(PlainState, saver), turns, name)
    else:
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        async with aiosqlite.connect(str(file)) as conn:
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
            rows = await _turns(_graph(PlainState if name == "plain" else DeltaState, saver), turns, name)
    size = sum(part.stat().st_size for part in folder.glob(f"{name}.sqlite*"))
    print(f"{name:14s} database {size / 1e6:.1f} MB", flush=True)
    first, last = rows[min(rows, key=int)], rows[max(rows, key=int)]
    return {"cpu_per_turn_ms": rows, "growth": round(last / first, 2), "database_mb": round(size / 1e6, 1)}


async def main(turns: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        layouts = {name: await _layout(name, turns, Path(tmp)) for name in ("plain", "delta_channel", "message_log")}
    return {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "turns": turns, "checkpointer": "sqlite", "layouts": layouts}


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000)
    results = asyncio.run(main(parser.parse_args().turns))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    cli()
