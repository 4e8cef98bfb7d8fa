"""Runs: stream one (`/threads/{id}/runs/stream`, stateless `/runs/stream`), wait for one (`.../wait`),
start one in the background (`/threads/{id}/runs`), read, join, re-join or cancel it.

Every run is one turn of the agent (`Agent.open_turn`: the thread is held before any answer, so a
busy thread is a 409), executed by `graphs.runs.Runs` in a task that publishes the encoded events
to the run's stream; every answer that streams is a subscription to that stream. So a client may
go away (`on_disconnect: continue`, the default) and come back (`GET .../stream` with
`Last-Event-ID`); with `on_disconnect: cancel` its going away cancels the run. A cancelled or
failed run leaves the thread as it was before it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.sse import EventSourceResponse

from graphs.agent import OpenTurn
from graphs.fixtures import WIRE_KEY, from_wire
from graphs.runs import TAIL, RunRecord, RunStatus, StreamItem
from graphs.server._errors import is_utf8
from graphs.server.agent_server._context import ApiError, Context, context, dumps, invalid
from graphs.server.agent_server._encode import Encoder, needs_step_events
from graphs.server.agent_server._models import ID_PATTERN, ErrorOut, InputMessage, RunCreate, RunOut, StreamMode

__all__ = ["router"]

router = APIRouter(tags=["agent server: runs"])
ThreadId = Path(pattern=ID_PATTERN, description="The thread's id.")
RunId = Path(pattern=ID_PATTERN, description="The run's id.")
_SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "The run's events."}}
_REFUSED: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such assistant or thread."},
    409: {"model": ErrorOut, "description": "The thread is busy, or a resume finds no interrupt to answer."},
}
# ---------------------------------------------------------------------------------- starting a run


def _message_text(message: InputMessage, limit: int) -> str:
    where: tuple[str | int, ...] = ("body", "input", "messages", 0)
    if message.type is None and message.role is None:
        raise invalid(where, "say who speaks: `type: human` or `role: user` (the new message is the user's; "
                      "the thread keeps the rest of the conversation)")
    text = message.content if isinstance(message.content, str) else "".join(b.text for b in message.content)
    if not text.strip():
        raise invalid((*where, "content"), "the message has no text", message.content)
    if not is_utf8(text):
        raise invalid((*where, "content"), "the text is not valid UTF-8 (a lone surrogate?)")
    if len(text) > limit:
        raise invalid((*where, "content"), f"the message has {len(text)} characters; the limit is {limit} "
                      "(serve.max_message_chars)")
    return text


def _resume_text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if not text or not is_utf8(text) or len(text) > limit:
        raise invalid(("body", "command", "resume"),
                      f"the answer must be non-empty UTF-8 text of at most {limit} characters", value)
    return text


async def _check_thread_point(ctx: Context, body: RunCreate, thread_id: str) -> None:
    """A resume needs a pending interrupt; a `checkpoint` must be the thread's latest (no time travel)."""
    asked = body.checkpoint_id or (body.checkpoint.checkpoint_id if body.checkpoint else None)
    if body.command is None and asked is None:
        return
    snapshot = await ctx.agent.graph.aget_state({"configurable": {"thread_id": thread_id}})
    if body.command is not None and not snapshot.interrupts:
        raise ApiError("no_interrupt", f"thread {thread_id!r} is not paused at an interrupt: send the user's "
                       "message as `input` instead of `command.resume`")
    latest = ((snapshot.config or {}).get("configurable") or {}).get("checkpoint_id")
    if asked is not None and asked != latest:
        field = ("body", "checkpoint_id") if body.checkpoint_id else ("body", "checkpoint", "checkpoint_id")
        raise invalid(field, f"runs start from the thread's latest checkpoint ({latest!r}); running from an "
                      "earlier one (editing or regenerating a past message) is not supported", asked)


def _fixtures(ctx: Context, body: RunCreate) -> tuple[Any, Any]:
    """A test's script and mocks from `config.configurable` (`graphs.fixtures.WIRE_KEY`), test mode only."""
    try:
        found = from_wire(body.config.configurable if body.config else None)
    except ValueError as exc:
        raise invalid(("body", "config", "configurable", WIRE_KEY), str(exc)) from None
    if found is None:
        return None, None
    ctx.state.check_fixtures(*found)
    return found


async def _start(ctx: Context, body: RunCreate, thread_id: str | None, *, modes: tuple[StreamMode, ...]) -> RunRecord:
    """Check the request, hold the thread and start the run; its record."""
    ctx.check_assistant(body.assistant_id)
    limit = ctx.state.limits.max_message_chars
    message_id = None
    if body.input is not None:
        message = _message_text(body.input.messages[-1], limit)
        message_id = body.input.messages[-1].id
    else:
        assert body.command is not None
        message = _resume_text(body.command.resume, limit)
    stateless = thread_id is None
    if stateless and body.command is not None:
        raise ApiError("no_interrupt", "a stateless run starts a new thread, which has no interrupt to resume")
    temporary = stateless and body.on_completion != "keep"
    run_id = str(uuid.uuid4())

    script, mocks = _fixtures(ctx, body)

    def hold(thread: str) -> Awaitable[OpenTurn]:  # ThreadBusy: 409
        return ctx.agent.open_turn(message, thread_id=thread, run_id=run_id, message_id=message_id,
                                   step_events=needs_step_events(modes), script=script, mocks=mocks)

    if thread_id is None:
        thread_id = str(uuid.uuid4())
        if not temporary:
            await ctx.api.threads.create(thread_id, ctx.tags)
        turn = await hold(thread_id)
    else:
        turn = await _hold_known_thread(ctx, thread_id, hold, create=body.if_not_exists == "create")
        try:
            await _check_thread_point(ctx, body, thread_id)  # with the thread held: nothing changes it meanwhile
        except BaseException:
            with anyio.CancelScope(shield=True):
                await turn.aclose()
            raise
    run = RunRecord(
        run_id=run_id, thread_id=thread_id, assistant_id=ctx.graph_id, status="running",
        metadata={**(body.metadata or {})},
        kwargs={"input": _plain(body.input), "command": _plain(body.command), "stream_mode": list(modes),
                "config": _plain(body.config) or {}, "resumable": body.stream_resumable, "temporary": temporary},
        multitask_strategy=body.multitask_strategy,
    )
    await ctx.api.runs.start(run, turn, Encoder(modes, run_id, thread_id, ctx.graph_id),
                             keep_s=ctx.api.keep_s if body.stream_resumable else 0.0, after=_after(ctx, temporary))
    return run


async def _hold_known_thread(ctx: Context, thread_id: str, hold: Callable[[str], Awaitable[OpenTurn]], *,
                             create: bool) -> OpenTurn:
    """The thread's record is read while its turn opens (two databases, side by side: the time to the
    first token pays for one); a thread that is not there releases the turn again (404)."""
    found, opened = await _both(ctx.api.threads.get(thread_id), hold(thread_id))
    if isinstance(found, BaseException) or found is None:
        if isinstance(opened, OpenTurn):
            with anyio.CancelScope(shield=True):
                await opened.aclose()
        if isinstance(found, BaseException):
            raise found
        if not create:
            raise ApiError("not_found", f"thread {thread_id!r} not found: create it with POST /threads "
                           "(or send `if_not_exists: create`)")
        await ctx.api.threads.create(thread_id, ctx.tags)
        return await hold(thread_id)
    if isinstance(opened, BaseException):
        raise opened
    if any(found.metadata.get(k) != v for k, v in ctx.tags.items()):  # rare: the client set other ones
        try:
            await ctx.api.threads.update(thread_id, ctx.tags)  # so the graph's thread list finds it
        except BaseException:
            with anyio.CancelScope(shield=True):
                await opened.aclose()
            raise
    return opened


async def _both(reading: Awaitable[Any], opening: Awaitable[OpenTurn]) -> tuple[Any, OpenTurn | BaseException]:
    """Run both; their results or exceptions. Cancelled meanwhile (the client went away), a turn that
    opened is closed again, so its thread is not left held."""
    tasks = (asyncio.ensure_future(reading), asyncio.ensure_future(opening))
    try:
        await asyncio.wait(tasks)
    except BaseException:
        with anyio.CancelScope(shield=True):
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            turn = tasks[1]
            if not turn.cancelled() and turn.exception() is None:
                await turn.result().aclose()
        raise
    return _outcome(tasks[0]), _outcome(tasks[1])


def _outcome(task: asyncio.Future[Any]) -> Any:
    if task.cancelled():
        return asyncio.CancelledError()
    return task.exception() or task.result()


def _plain(model: Any) -> Any:
    return None if model is None else model.model_dump(exclude_none=True)


def _after(ctx: Context, temporary: bool) -> Callable[[RunRecord], Awaitable[None]]:
    async def after(run: RunRecord) -> None:
        if temporary:  # a stateless run's thread goes with it
            await ctx.agent.graph.checkpointer.adelete_thread(run.thread_id)
        else:
            await ctx.api.threads.update(run.thread_id)  # touch updated_at

    return after


# ---------------------------------------------------------------------------------- answers


def _frames(items: AsyncIterator[list[StreamItem]], *, modes: frozenset[str] | None = None,
            on_disconnect: Callable[[], Awaitable[None]] | None = None) -> AsyncIterator[bytes]:
    """The SSE blocks of a run's frames; the frames published together in one write."""
    async def frames() -> AsyncIterator[bytes]:
        ended = False
        try:
            async for ready in items:
                blocks = [b"id: %s\nevent: %s\ndata: %s\n\n" % (item.id.encode(), item.name.encode(), item.data)
                          for item in ready if modes is None or item.mode is None or item.mode in modes]
                if blocks:
                    yield b"".join(blocks)
            ended = True
        finally:
            if not ended and on_disconnect is not None:
                with anyio.CancelScope(shield=True):
                    await on_disconnect()

    return frames()


def _stream_answer(ctx: Context, run: RunRecord, body: RunCreate, location: str) -> EventSourceResponse:
    headers = {"Content-Location": location}
    if body.stream_resumable:
        headers["Location"] = f"/threads/{run.thread_id}/runs/{run.run_id}/stream"
    runs = ctx.api.runs
    cancel = (lambda: runs.cancel(run.run_id)) if body.on_disconnect == "cancel" else None
    items = runs.stream.subscribe(run.run_id)
    return EventSourceResponse(_frames(items, on_disconnect=cancel), headers=headers)


def _run_out(run: RunRecord) -> RunOut:
    return RunOut(run_id=run.run_id, thread_id=run.thread_id, assistant_id=run.assistant_id,
                  created_at=run.created_at, updated_at=run.updated_at, status=run.status,
                  metadata=run.metadata, kwargs=run.kwargs, multitask_strategy=run.multitask_strategy)


async def _final_values(ctx: Context, run: RunRecord) -> bytes:
    """What `wait` answers: the last `values` event, or `{"__error__": ...}` when the run failed."""
    last: bytes | None = None
    async for ready in ctx.api.runs.stream.subscribe(run.run_id):
        for item in ready:
            if item.name == "values":
                last = item.data
            elif item.name == "error":
                return b'{"__error__":%s}' % item.data
    return last if last is not None else b"null"


@router.post("/threads/{thread_id}/runs/stream", response_model=None,
             responses={**_SSE, **_REFUSED})
async def stream_run(body: RunCreate, request: Request, thread_id: str = ThreadId) -> EventSourceResponse:
    """Run a turn on the thread and stream it. The run's id is in `Content-Location` and `metadata`."""
    ctx = context(request)
    run = await _start(ctx, body, thread_id, modes=body.modes())
    return _stream_answer(ctx, run, body, f"/threads/{thread_id}/runs/{run.run_id}")


@router.post("/runs/stream", response_model=None, responses={**_SSE, **_REFUSED})
async def stream_stateless_run(body: RunCreate, request: Request) -> EventSourceResponse:
    """Run a turn on a new thread and stream it; the thread is deleted afterwards unless `on_completion: keep`."""
    ctx = context(request)
    run = await _start(ctx, body, None, modes=body.modes())
    return _stream_answer(ctx, run, body, f"/runs/{run.run_id}")


@router.post("/threads/{thread_id}/runs/wait", responses=_REFUSED)
async def wait_run(body: RunCreate, request: Request, thread_id: str = ThreadId) -> Response:
    """Run a turn and answer its final state (`{"__error__": {error, message}}` when it failed)."""
    ctx = context(request)
    run = await _start(ctx, body, thread_id, modes=tuple(dict.fromkeys(("values", *body.modes()))))
    data = await _final_values(ctx, run)
    return Response(data, media_type="application/json",
                    headers={"Content-Location": f"/threads/{thread_id}/runs/{run.run_id}"})


@router.post("/runs/wait", responses=_REFUSED)
async def wait_stateless_run(body: RunCreate, request: Request) -> Response:
    """Run a turn on a new thread and answer its final state."""
    ctx = context(request)
    run = await _start(ctx, body, None, modes=tuple(dict.fromkeys(("values", *body.modes()))))
    data = await _final_values(ctx, run)
    return Response(data, media_type="application/json", headers={"Content-Location": f"/runs/{run.run_id}"})


@router.post("/threads/{thread_id}/runs", response_model=RunOut, responses=_REFUSED)
async def create_background_run(body: RunCreate, request: Request, response: Response,
                                thread_id: str = ThreadId) -> RunOut:
    """Start a turn in the background; join it, stream it, or cancel it by its id."""
    ctx = context(request)
    run = await _start(ctx, body, thread_id, modes=body.modes())
    response.headers["Content-Location"] = f"/threads/{thread_id}/runs/{run.run_id}"
    return _run_out(run)


@router.get("/threads/{thread_id}/runs", response_model=list[RunOut], responses=_REFUSED)
async def list_runs(request: Request, thread_id: str = ThreadId, limit: int = Query(10, ge=1, le=1000),
                    offset: int = Query(0, ge=0), status: RunStatus | None = None) -> list[RunOut]:
    """The thread's runs, newest first (finished runs are kept in memory for a while)."""
    ctx = context(request)
    await ctx.thread(thread_id)
    return [_run_out(r) for r in await ctx.api.runs.store.list(thread_id, limit=limit, offset=offset, status=status)]


async def _run(ctx: Context, thread_id: str, run_id: str) -> RunRecord:
    run = await ctx.api.runs.store.get(run_id)
    if run is None or run.thread_id != thread_id:
        raise ApiError("not_found", f"run {run_id!r} of thread {thread_id!r} not found")
    return run


_RUN_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "No such run."}}


@router.get("/threads/{thread_id}/runs/{run_id}", response_model=RunOut, responses=_RUN_NOT_FOUND)
async def get_run(request: Request, thread_id: str = ThreadId, run_id: str = RunId) -> RunOut:
    return _run_out(await _run(context(request), thread_id, run_id))


@router.get("/threads/{thread_id}/runs/{run_id}/join", responses=_RUN_NOT_FOUND)
async def join_run(request: Request, thread_id: str = ThreadId, run_id: str = RunId) -> Response:
    """Wait for the run to end; the thread's state then (`{"__error__": ...}` when the run failed)."""
    ctx = context(request)
    await _run(ctx, thread_id, run_id)
    run = await ctx.api.runs.wait(run_id)
    if run is not None and run.error is not None and run.status in ("error", "timeout"):
        return Response(dumps({"__error__": run.error}), media_type="application/json")
    snapshot = await ctx.agent.graph.aget_state({"configurable": {"thread_id": thread_id}})
    return Response(dumps(snapshot.values or {}), media_type="application/json")


@router.get("/threads/{thread_id}/runs/{run_id}/stream", response_model=None,
            responses={**_SSE, **_RUN_NOT_FOUND, 422: {"description": "A `Last-Event-ID` this server never sent."}})
async def join_run_stream(
    request: Request,
    thread_id: str = ThreadId,
    run_id: str = RunId,
    stream_mode: list[StreamMode | Literal[""]] | None = Query(
        default=None, description="Only these modes (default, or empty: the run's)."),
    cancel_on_disconnect: bool = Query(default=False),
    last_event_id: str | None = Header(default=None, max_length=64, description="Resume after this event."),
) -> EventSourceResponse:
    """Join the run's stream: new events only, or, with `Last-Event-ID`, every kept event after that
    one (`-1`: from the start). Events stay while the run runs, and after it for resumable runs."""
    ctx = context(request)
    await _run(ctx, thread_id, run_id)
    try:
        items = ctx.api.runs.stream.subscribe(run_id, after=last_event_id or TAIL)
    except ValueError as exc:
        raise invalid(("header", "last-event-id"), str(exc), last_event_id) from None
    runs = ctx.api.runs
    cancel = (lambda: runs.cancel(run_id)) if cancel_on_disconnect else None
    modes = frozenset(m for m in stream_mode or () if m)
    return EventSourceResponse(_frames(items, modes=modes or None, on_disconnect=cancel))


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", status_code=202, response_class=Response,
             responses={**_RUN_NOT_FOUND, 204: {"description": "Cancelled, and waited for (`wait=1`)."}})
async def cancel_run(
    request: Request,
    thread_id: str = ThreadId,
    run_id: str = RunId,
    wait: bool = Query(default=False, description="Answer once the run has stopped (204)."),
    action: str = Query(default="interrupt", pattern="^(interrupt|rollback)$",
                        description="Either way the thread is left as it was before the run."),
) -> Response:
    """Cancel the run (a finished run stays as it ended); its thread is restored to before the run."""
    ctx = context(request)
    run = await _run(ctx, thread_id, run_id)
    status: RunStatus = run.status
    if status in ("pending", "running"):
        await ctx.api.runs.cancel(run_id)
    if wait:
        await ctx.api.runs.wait(run_id)
        return Response(status_code=204)
    return Response(status_code=202)
