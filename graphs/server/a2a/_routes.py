"""`/a2a` (and `/a2a/{assistant_id}`, as LangGraph's server has it) and the agent card.

JSON-RPC 2.0 over HTTP: `message/send` (answers the task once the turn ended), `message/stream`
(the task's updates as Server-Sent Events) and `tasks/get`. A2A's `contextId` is the thread id
(a new thread when absent); each message is a task, except the answer to a task waiting for input,
which continues it. Every turn runs through `Agent.open_turn`, like every other route's.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from graphs.agent import OpenTurn
from graphs.server._errors import ApiError, as_api_error
from graphs.server._state import ServerState, dumps, server_state
from graphs.server.a2a._encode import TaskEncoder
from graphs.server.a2a._jsonrpc import (
    CONTENT_TYPE_NOT_SUPPORTED,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    SERVER_ERROR,
    TASK_NOT_FOUND,
    UNSUPPORTED_OPERATION,
    RpcError,
    RpcRequest,
    error_body,
    params_error,
    parse_request,
    result_body,
)
from graphs.server.a2a._models import PROTOCOL_VERSION, MessageSendParams, TaskQueryParams, message_text_of
from graphs.server.a2a._tasks import TERMINAL, TaskRecord, TaskStore

__all__ = ["CARD_PATH", "PATH", "agent_card", "router"]

PATH = "/a2a"
CARD_PATH = "/.well-known/agent-card.json"
METHODS = ("message/send", "message/stream", "tasks/get")
UNSUPPORTED = ("tasks/cancel", "tasks/resubscribe", "tasks/pushNotificationConfig/set",
               "tasks/pushNotificationConfig/get", "tasks/pushNotificationConfig/list",
               "tasks/pushNotificationConfig/delete", "agent/getAuthenticatedExtendedCard")
log = logging.getLogger("graphs.server")
router = APIRouter(tags=["a2a"])


def agent_card(state: ServerState, base_url: str) -> dict[str, Any]:
    """What an A2A client reads first: who the agent is, where to send messages, what it can do."""
    name, description = state.name, (state.plan["description"] or f"The {state.name} agent.").strip()
    card: dict[str, Any] = {
        "protocolVersion": PROTOCOL_VERSION, "name": name, "description": description,
        "url": f"{base_url.rstrip('/')}{PATH}/{name}", "preferredTransport": "JSONRPC",
        "version": str(state.plan["plan"]),
        "capabilities": {"streaming": True, "pushNotifications": False, "stateTransitionHistory": False},
        "defaultInputModes": ["text/plain", "application/json"], "defaultOutputModes": ["text/plain"],
        "skills": [{"id": name, "name": name, "description": description, "tags": ["chat"],
                    "examples": [], "inputModes": ["text/plain"], "outputModes": ["text/plain"]}],
    }
    if state.api_keys:
        card["securitySchemes"] = {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                                   "bearer": {"type": "http", "scheme": "bearer"}}
        card["security"] = [{"apiKey": []}, {"bearer": []}]
    return card


@router.get(CARD_PATH, include_in_schema=False)
async def card_route(request: Request, assistant_id: str | None = None) -> Response:
    state = server_state(request)
    if assistant_id is not None and assistant_id != state.name:
        raise ApiError("not_found", f"no assistant {assistant_id!r}: this server serves {state.name!r}",
                       field="assistant_id")
    return JSONResponse(agent_card(state, str(request.base_url)))


@router.post(PATH, include_in_schema=False)
async def rpc_route(request: Request) -> Response:
    return await _answer(request, None)


@router.post(PATH + "/{assistant_id}", include_in_schema=False)
async def rpc_assistant_route(request: Request, assistant_id: str) -> Response:
    return await _answer(request, assistant_id)


async def _answer(request: Request, assistant_id: str | None) -> Response:
    state = server_state(request)
    request_id: Any = None
    try:
        rpc = parse_request(await request.body())
        request_id = rpc.id
        if assistant_id is not None and assistant_id != state.name:
            return _error(RpcError(SERVER_ERROR, f"no assistant {assistant_id!r}: this server serves {state.name!r} "
                                                 f"at {PATH}/{state.name}", data={"code": "not_found"}),
                          request_id, status=404)
        return await _dispatch(request, state, rpc)
    except RpcError as exc:
        return _error(exc, request_id)
    except Exception as exc:
        error = as_api_error(exc)
        if error.code == "internal_error":
            log.error("unexpected error in %s (request %s)", request.url.path,
                      request.scope.get("state", {}).get("request_id"), exc_info=exc)
            return _error(RpcError(INTERNAL_ERROR, "an unexpected error; the server log has the details under "
                                                   "this request's X-Request-Id", data={"code": "internal_error"}),
                          request_id)
        return _error(RpcError.of(error), request_id)


def _error(error: RpcError, request_id: Any, *, status: int = 200) -> Response:
    return Response(dumps(error_body(error, request_id)), status_code=status, media_type="application/json")


def _params(model: type[BaseModel], rpc: RpcRequest) -> Any:
    try:
        return model.model_validate(rpc.params)
    except ValidationError as exc:
        raise params_error(exc.errors(include_url=False)) from None


async def _dispatch(request: Request, state: ServerState, rpc: RpcRequest) -> Response:
    handlers: dict[str, Callable[[Request, ServerState, RpcRequest], Awaitable[Response]]] = {
        "message/send": _send, "message/stream": _stream, "tasks/get": _get}
    handler = handlers.get(rpc.method)
    if handler is not None:
        return await handler(request, state, rpc)
    if rpc.method in UNSUPPORTED:
        raise RpcError(UNSUPPORTED_OPERATION, f"{rpc.method!r} is not supported by this agent; it offers "
                                              f"{', '.join(METHODS)}", data={"code": "invalid_request"})
    raise RpcError(METHOD_NOT_FOUND, f"unknown method {rpc.method!r}; this agent offers {', '.join(METHODS)}",
                   data={"code": "invalid_request"})


def _tasks(request: Request) -> TaskStore:
    store: TaskStore | None = getattr(request.app.state, "a2a_tasks", None)
    if store is None:
        store = request.app.state.a2a_tasks = TaskStore()
    return store


async def _get(request: Request, state: ServerState, rpc: RpcRequest) -> Response:
    params: TaskQueryParams = _params(TaskQueryParams, rpc)
    record = _tasks(request).get(params.id)
    if record is None:
        raise RpcError(TASK_NOT_FOUND, f"no task {params.id!r} (tasks are kept in the server's memory; the "
                                       "conversation itself is the thread, its contextId)", data={"code": "not_found"})
    return JSONResponse(result_body(rpc.id, record.as_task(params.historyLength)))


async def _start(request: Request, state: ServerState, params: MessageSendParams) -> tuple[TaskRecord, OpenTurn]:
    """Check the message, find or make its task, and open the turn (the thread held)."""
    message = params.message
    text = message_text_of(message)
    if text is None:
        raise RpcError(CONTENT_TYPE_NOT_SUPPORTED, "params.message.parts: file parts are not supported; send the "
                                                   "content as text or data parts", data={"code": "invalid_request"})
    if not text.strip():
        raise RpcError(INVALID_PARAMS, "params.message.parts: the message has no text; send at least one non-empty "
                                       "text part", data={"code": "invalid_request", "field": "params.message.parts"})
    limit = state.limits.max_message_chars
    if len(text) > limit:
        raise RpcError(INVALID_PARAMS, f"params.message.parts: the message has {len(text)} characters; the limit is "
                                       f"{limit}: send at most {limit} characters (serve.max_message_chars)",
                       data={"code": "message_too_long", "field": "params.message.parts"})
    store = _tasks(request)
    record = store.get(message.taskId) if message.taskId else None
    if message.taskId and record is None:
        raise RpcError(TASK_NOT_FOUND, f"no task {message.taskId!r}: leave `taskId` out to start a new task",
                       data={"code": "not_found", "field": "params.message.taskId"})
    if record is not None:
        if message.contextId is not None and message.contextId != record.context_id:
            raise RpcError(INVALID_PARAMS, f"params.message.contextId: task {record.id!r} belongs to context "
                                           f"{record.context_id!r}, not {message.contextId!r}",
                           data={"code": "invalid_request", "field": "params.message.contextId"})
        if record.state in TERMINAL:
            raise RpcError(INVALID_PARAMS, f"params.message.taskId: task {record.id!r} is {record.state}; a task "
                                           "that ended cannot go on: leave `taskId` out (keep the contextId) to "
                                           "send a new message on the same thread",
                           data={"code": "invalid_request", "field": "params.message.taskId"})
    context_id = record.context_id if record is not None else message.contextId or uuid.uuid4().hex
    turn = await state.require_agent().open_turn(text, thread_id=context_id, message_id=message.messageId)
    if record is None:
        record = store.new(context_id)
    record.history.append({**message.model_dump(exclude_none=True), "taskId": record.id, "contextId": context_id})
    return record, turn


async def _send(request: Request, state: ServerState, rpc: RpcRequest) -> Response:
    params: MessageSendParams = _params(MessageSendParams, rpc)
    record, turn = await _start(request, state, params)
    encoder = TaskEncoder(record)
    encoder.start()
    try:
        async for event in turn.rest:
            encoder.feed(event)
    finally:
        encoder.cancel()
        await turn.aclose()
    history = params.configuration.historyLength if params.configuration else None
    return JSONResponse(result_body(rpc.id, record.as_task(history)))


async def _stream(request: Request, state: ServerState, rpc: RpcRequest) -> Response:
    params: MessageSendParams = _params(MessageSendParams, rpc)
    record, turn = await _start(request, state, params)
    return StreamingResponse(_events(rpc.id, record, turn), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _events(request_id: Any, record: TaskRecord, turn: OpenTurn) -> AsyncIterator[bytes]:
    encoder = TaskEncoder(record)
    try:
        yield _sse(result_body(request_id, record.as_task()))
        yield _sse(result_body(request_id, encoder.start()))
        async for event in turn.rest:
            for result in encoder.feed(event):
                yield _sse(result_body(request_id, result))
    finally:
        encoder.cancel()
        await turn.aclose()


def _sse(body: dict[str, Any]) -> bytes:
    return b"data: %s\n\n" % json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode()
