"""Threads: create, search, read, patch, delete; their state and history (from the checkpointer).

A thread's record (id, times, metadata) is in the thread table (`graphs.threads`); what it holds is
in the checkpointer; its status is computed: `busy` while a turn holds it (any surface) or a run of
it is pending, `interrupted` while it waits at an interrupt, else `idle`. (A failed turn leaves the
thread as it was, so `error` is never a thread's status here.)
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Path, Request, Response

from graphs.server.agent_server._context import ApiError, Context, context, jsonable
from graphs.server.agent_server._models import (
    ID_PATTERN,
    CheckpointRef,
    ErrorOut,
    HistoryRequest,
    ThreadCreate,
    ThreadOut,
    ThreadPatch,
    ThreadSearch,
    ThreadStateOut,
    ThreadStatus,
)
from graphs.threads import ThreadRecord, metadata_contains

__all__ = ["checkpoint_of", "router", "thread_state"]

router = APIRouter(tags=["agent server: threads"])
ThreadId = Path(pattern=ID_PATTERN, description="The thread's id.")
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "No such thread."}}


def checkpoint_of(config: Any) -> dict[str, Any] | None:
    """The `{thread_id, checkpoint_ns, checkpoint_id, checkpoint_map}` of a LangGraph config."""
    configurable = (config or {}).get("configurable") or {}
    if not configurable.get("thread_id") or not configurable.get("checkpoint_id"):
        return None
    return {"thread_id": str(configurable["thread_id"]), "checkpoint_ns": configurable.get("checkpoint_ns") or "",
            "checkpoint_id": str(configurable["checkpoint_id"]), "checkpoint_map": configurable.get("checkpoint_map")}


def _interrupts(interrupts: Any) -> list[dict[str, Any]]:
    return [{"value": jsonable(i.value), "id": str(i.id)} for i in interrupts or ()]


def thread_state(snapshot: Any) -> dict[str, Any]:
    """A LangGraph `StateSnapshot` as the API's `ThreadState`."""
    tasks = [{
        "id": str(task.id), "name": str(task.name), "error": None if task.error is None else str(task.error),
        "interrupts": _interrupts(task.interrupts),
        "checkpoint": checkpoint_of(task.state) if isinstance(task.state, dict) else None,
        "state": None, "result": jsonable(getattr(task, "result", None)),
    } for task in snapshot.tasks]
    return {
        "values": jsonable(snapshot.values or {}),
        "next": list(snapshot.next),
        "tasks": tasks,
        "checkpoint": checkpoint_of(snapshot.config),
        "parent_checkpoint": checkpoint_of(snapshot.parent_config),
        "metadata": jsonable(snapshot.metadata) if snapshot.metadata is not None else None,
        "created_at": snapshot.created_at,
        "interrupts": _interrupts(snapshot.interrupts),
    }


async def _snapshot(ctx: Context, thread_id: str, checkpoint: CheckpointRef | None = None) -> Any:
    configurable: dict[str, Any] = {"thread_id": thread_id}
    if checkpoint is not None:
        configurable.update({k: v for k, v in checkpoint.model_dump().items() if v is not None and k != "thread_id"})
    return await ctx.agent.graph.aget_state({"configurable": configurable})


async def _thread(ctx: Context, record: ThreadRecord, *, new: bool = False) -> ThreadOut:
    """The API's thread; a `new` one (a fresh UUID) holds nothing yet, so its state is not read."""
    values: dict[str, Any] = {}
    interrupts: dict[str, Any] = {}
    status: ThreadStatus = "idle"
    if not new:
        snapshot = await _snapshot(ctx, record.thread_id)
        values = jsonable(snapshot.values or {})
        interrupts = {str(t.id): _interrupts(t.interrupts) for t in snapshot.tasks if t.interrupts}
        if await ctx.is_busy(record.thread_id):
            status = "busy"
        elif snapshot.interrupts:
            status = "interrupted"
    return ThreadOut.model_validate({
        "thread_id": record.thread_id, "created_at": record.created_at, "updated_at": record.updated_at,
        "metadata": record.metadata, "status": status, "values": values, "interrupts": interrupts, "config": {},
    })


@router.post("/threads", response_model=ThreadOut,
             responses={409: {"model": ErrorOut, "description": "The thread exists (`if_exists: raise`)."}})
async def create_thread(body: ThreadCreate, request: Request) -> ThreadOut:
    """A new thread (its id a new UUID unless given), with `metadata`; it is this server's graph's, so its
    metadata also says `graph_id` and `assistant_id` (unless given), as LangGraph's server adds at its first run."""
    ctx = context(request)
    thread_id = body.thread_id or str(uuid.uuid4())
    record = await ctx.api.threads.create(thread_id, {**ctx.tags, **(body.metadata or {})})
    if record is None:
        if body.if_exists == "raise":
            raise ApiError("already_exists",
                           f"thread {thread_id!r} already exists; send `if_exists: do_nothing` to get it instead")
        record = await ctx.thread(thread_id)
    return await _thread(ctx, record, new=body.thread_id is None)


@router.post("/threads/search", response_model=list[ThreadOut])
async def search_threads(body: ThreadSearch, request: Request) -> list[ThreadOut]:
    """Threads whose metadata contains `metadata` (Agent Chat UI: `{"graph_id": ...}`), newest first."""
    ctx = context(request)
    descending = body.sort_order == "desc"
    if body.status is None:
        records = await ctx.api.threads.search(metadata=body.metadata, ids=body.ids, limit=body.limit,
                                               offset=body.offset, sort_by=body.sort_by, descending=descending)
        return [await _thread(ctx, r) for r in records]
    # a status is computed, not stored: filter the matches, then page
    records = await ctx.api.threads.search(metadata=body.metadata, ids=body.ids, limit=10**9, offset=0,
                                           sort_by=body.sort_by, descending=descending)
    found = [t for t in [await _thread(ctx, r) for r in records] if t.status == body.status]
    return found[body.offset:body.offset + body.limit]


@router.get("/threads/{thread_id}", response_model=ThreadOut, responses=_NOT_FOUND)
async def get_thread(request: Request, thread_id: str = ThreadId) -> ThreadOut:
    ctx = context(request)
    return await _thread(ctx, await ctx.thread(thread_id))


@router.patch("/threads/{thread_id}", response_model=ThreadOut, responses=_NOT_FOUND)
async def patch_thread(body: ThreadPatch, request: Request, thread_id: str = ThreadId) -> ThreadOut:
    """Merge `metadata` into the thread's."""
    ctx = context(request)
    record = await ctx.api.threads.update(thread_id, body.metadata)
    if record is None:
        await ctx.thread(thread_id)  # 404
        raise AssertionError("unreachable")
    return await _thread(ctx, record)


@router.delete("/threads/{thread_id}", status_code=204, response_class=Response, responses={
    **_NOT_FOUND, 409: {"model": ErrorOut, "description": "A run is running on the thread."}})
async def delete_thread(request: Request, thread_id: str = ThreadId) -> Response:
    """Delete the thread, its state and its runs (409 while a run holds it)."""
    ctx = context(request)
    await ctx.thread(thread_id)
    if await ctx.api.runs.store.active(thread_id) is not None:
        raise ApiError("thread_busy", f"a run is running on thread {thread_id!r}; cancel it first")
    async with ctx.agent.locks.hold(thread_id):  # no turn may start while the thread goes (ThreadBusy: 409)
        await ctx.agent.graph.checkpointer.adelete_thread(thread_id)
        await ctx.api.threads.delete(thread_id)
        await ctx.api.runs.store.forget_thread(thread_id)
    return Response(status_code=204)


@router.get("/threads/{thread_id}/state", response_model=ThreadStateOut, responses=_NOT_FOUND)
async def get_thread_state(request: Request, thread_id: str = ThreadId, subgraphs: bool = False) -> dict[str, Any]:
    """The thread's latest state: values, pending interrupts, the next nodes, its checkpoint."""
    ctx = context(request)
    await ctx.thread(thread_id)
    return thread_state(await _snapshot(ctx, thread_id))


@router.post("/threads/{thread_id}/history", response_model=list[ThreadStateOut], responses=_NOT_FOUND)
async def thread_history(body: HistoryRequest, request: Request, thread_id: str = ThreadId) -> list[dict[str, Any]]:
    """The thread's states, newest first (a turn saves one when it ends)."""
    ctx = context(request)
    await ctx.thread(thread_id)
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if body.checkpoint is not None:
        given = body.checkpoint.model_dump(exclude_none=True)
        configurable.update({k: v for k, v in given.items() if k != "thread_id"})
    before = body.before
    before_config = None
    if before is not None:
        checkpoint_id = before if isinstance(before, str) else before.checkpoint_id
        before_config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": "", "checkpoint_id": checkpoint_id}}
    # Metadata is matched here (containment, as thread search does): the savers' own filters differ
    # from one database to the next, and SQLite's refuses keys that are not plain names.
    states = []
    async for snapshot in ctx.agent.graph.aget_state_history(
            {"configurable": configurable}, limit=None if body.metadata else body.limit, before=before_config):
        if not body.metadata or metadata_contains(snapshot.metadata or {}, body.metadata):
            states.append(thread_state(snapshot))
            if len(states) == body.limit:
                break
    return states
