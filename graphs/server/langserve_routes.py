"""LangServe routes: the compiled graph at `serve.path`, and a chat-shaped runnable for the playground.

- `serve.path` (`/invoke`, `/batch`, `/stream`, `/stream_events`, `/stream_log`, `/playground/`, the
  schemas): the compiled LangGraph graph itself. Pass `config={"configurable": {"thread_id": ...}}`
  to continue a thread; without one every call starts a new thread. Its input is typed from the
  plan (`input_model`: messages as `{role, content}`, each slot as its spec type), so a bad request
  is a `422`; a run reserves its thread and a failed or cancelled run restores it.
- `serve.path + "/chat"` (same endpoints, `playground_type="chat"`): input
  `{"messages": [...], "input": "text"}`, output the reply as a string streamed token by token. It
  runs through `Agent.turn()`, so it shares the thread lock, the restore-on-error and the events.

The graph and its checkpointer are opened in the app's lifespan, after the routes exist, so both
runnables look the live graph up at call time and take their schemas from a checkpointer-less copy.

Threads from the chat playground: the playground sends the whole conversation on every turn and
keeps no thread id, but it does send back each AI message's `runId` (the LangServe run that produced
it). The first turn's run id becomes the thread id (`playground-<run id>`), and later turns find it
in the first AI message's `runId`: a thread per conversation, stable across restarts and replicas,
with no server-side table. An explicit `configurable.thread_id` wins.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse
from langchain_core.callbacks import AsyncCallbackManagerForChainRun
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import get_config_list
from langchain_core.runnables.utils import ConfigurableFieldSpec
from langserve import add_routes
from pydantic import BaseModel, ConfigDict, Field, Strict, create_model

from graphs.agent import Agent
from graphs.events import ErrorEvent, TokenEvent
from graphs.server.limits import Limits

__all__ = [
    "ChatRunnable",
    "GraphRunnable",
    "add_langserve_routes",
    "chat_input_model",
    "input_model",
    "playground_thread_id",
    "state_model",
]

AgentGetter = Callable[[], Agent]

_THREAD_SPEC = ConfigurableFieldSpec(
    id="thread_id",
    annotation=str,
    name="Thread ID",
    default="",
    description="Continue this thread (a new one when empty).",
    is_shared=True,
)


def _thread_from_config(config: RunnableConfig | None) -> str | None:
    value = ((config or {}).get("configurable") or {}).get("thread_id")
    return str(value) if value else None


def state_model(plan: Any) -> type[BaseModel]:
    """The graph's state as a pydantic model, for LangServe's validation and schemas.

    (LangGraph's own schema for the `TypedDict` state cannot be built by pydantic on Python 3.11.)
    Messages are plain objects (`{"role": "user", "content": "..."}` or serialized LangChain
    messages); LangGraph's `add_messages` turns them into messages.
    """
    fields: dict[str, Any] = {"messages": (list[Any], Field(default_factory=list, description="Messages to add."))}
    for slot, settings in plan["state"].items():
        fields[slot] = (Any, Field(default=None, description=settings.get("description") or None))
    title = "".join(part.title() for part in re.split(r"[^A-Za-z0-9]+", str(plan["name"]))) + "State"
    model: type[BaseModel] = create_model(title, **fields)
    return model


# Strict: JSON clients send JSON types; "5" for an integer or "yes" for a boolean is a mistake, not a value.
_SCALARS: dict[str, Any] = {
    "string": Annotated[str, Strict()],
    "integer": Annotated[int, Strict()],
    "number": Annotated[float, Strict()],
    "boolean": Annotated[bool, Strict()],
    "object": dict[str, Any],
}
Role = Literal["user", "human", "assistant", "ai", "system"]


def _slot_annotation(slot: Any) -> Any:
    """`string` -> str, `list[integer]` -> list[int], an enum -> a `Literal` of its values."""
    kind = str(slot.get("type") or "string")
    item_kind = kind[5:-1] if kind.startswith("list[") else None
    base: Any = _SCALARS.get(item_kind or kind, Any)
    if slot.get("enum"):
        base = Literal[tuple(slot["enum"])]
    if item_kind is None:
        return base
    if slot.get("reducer") == "append":
        return list[base] | base  # type: ignore[valid-type]  # the append reducer takes an item or items
    return list[base]  # type: ignore[valid-type]


def input_model(plan: Any, limits: Limits | None = None) -> type[BaseModel]:
    """What the graph routes accept: typed messages and each slot as its spec type (or null).

    Anything else is a `422` before the graph runs, so no request can leave a thread holding a
    value its nodes cannot use (`"turns": "abc"`).
    """
    max_chars = (limits or Limits()).max_message_chars
    message = create_model(
        "InputMessage",
        __config__=ConfigDict(extra="forbid"),
        role=(Role, Field(description="Who speaks: user/human, assistant/ai or system.")),
        content=(str, Field(max_length=max_chars, description="The text.")),
    )
    fields: dict[str, Any] = {
        "messages": (list[message], Field(default_factory=list, description="Messages to add."))  # type: ignore[valid-type]
    }
    for slot, settings in plan["state"].items():
        annotation = _slot_annotation(settings) | None
        fields[slot] = (annotation, Field(default=None, description=settings.get("description") or None))
    title = "".join(part.title() for part in re.split(r"[^A-Za-z0-9]+", str(plan["name"]))) + "Input"
    model: type[BaseModel] = create_model(title, __config__=ConfigDict(extra="forbid"), **fields)
    return model


class _OneAtATimePerThread:
    """`abatch` that runs the inputs of one thread one after another (and different threads at once):
    the default runs them all at once, and every input after the first would find its thread busy."""

    async def abatch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        configs = get_config_list(config, len(inputs))
        groups: dict[str, list[int]] = {}
        for index, one in enumerate(configs):
            groups.setdefault(_thread_from_config(one) or f"\0{index}", []).append(index)
        results: list[Any] = [None] * len(inputs)

        async def run(indexes: list[int]) -> None:
            for index in indexes:
                try:
                    results[index] = await self.ainvoke(inputs[index], configs[index], **kwargs)  # type: ignore[attr-defined]
                except Exception as exc:
                    if not return_exceptions:
                        raise
                    results[index] = exc

        await asyncio.gather(*(run(indexes) for indexes in groups.values()))
        return results


class GraphRunnable(_OneAtATimePerThread, Runnable[Any, Any]):
    """The compiled graph, looked up when called; a fresh thread gets the slot defaults first.

    A run reserves its thread (a busy one is `ThreadBusy`, answered `409`), and a run that fails or is
    cancelled leaves the thread as it was before it, like `Agent.turn()` does.
    """

    def __init__(self, get_agent: AgentGetter, plan: Any, limits: Limits | None = None) -> None:
        self._get_agent = get_agent
        self.name = str(plan["name"])
        self._input_model = input_model(plan, limits)
        self._state_model = state_model(plan)

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return self._input_model

    def get_output_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return self._state_model

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        return [_THREAD_SPEC]

    @asynccontextmanager
    async def _run(self, input: Any, config: RunnableConfig | None) -> AsyncIterator[tuple[Agent, Any, RunnableConfig]]:
        agent = self._get_agent()
        prepared: RunnableConfig = RunnableConfig(**(config or {}))
        configurable = dict(prepared.get("configurable") or {})
        if isinstance(input, BaseModel):
            input = input.model_dump(exclude_unset=True)
        async with agent.session(_thread_from_config(prepared)) as session:
            configurable["thread_id"] = session.thread_id
            prepared["configurable"] = configurable
            if isinstance(input, dict):
                input = {key: value for key, value in input.items() if value is not None}  # unset slots
                if isinstance(input.get("messages"), list):  # LangServe unpacks only the top level
                    input["messages"] = [
                        m.model_dump() if isinstance(m, BaseModel) else m for m in input["messages"]
                    ]
                input = session.seed(input)
            yield agent, input, prepared

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        raise NotImplementedError("the served graph runs asynchronously; use ainvoke")

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        async with self._run(input, config) as (agent, input, config):
            return await agent.graph.ainvoke(input, config, **kwargs)

    async def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        async with self._run(input, config) as (agent, input, config):
            async for chunk in agent.graph.astream(input, config, **kwargs):
                yield chunk

    async def astream_events(  # type: ignore[override]
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        async with self._run(input, config) as (agent, input, config):
            async for event in agent.graph.astream_events(input, config, **kwargs):
                yield event

    async def astream_log(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        async with self._run(input, config) as (agent, input, config):
            async for patch in agent.graph.astream_log(input, config, **kwargs):
                yield patch


def chat_input_model(limits: Limits | None = None) -> type[BaseModel]:
    """What the chat playground sends: the conversation so far and the new message (non-empty, at
    most `serve.max_message_chars`, like every other chat surface)."""
    max_chars = (limits or Limits()).max_message_chars
    model: type[BaseModel] = create_model(
        "ChatInput",
        messages=(
            list[dict[str, Any]],
            Field(default_factory=list, description="The conversation so far (the playground sends it back)."),
        ),
        input=(str, Field(min_length=1, max_length=max_chars, description="The new user message.")),
    )
    return model


def playground_thread_id(messages: list[dict[str, Any]], run_id: Any) -> str:
    """The thread of a playground conversation: named after the run that gave its first AI reply."""
    for message in messages:
        if isinstance(message, dict) and message.get("type") in ("ai", "AIMessage", "AIMessageChunk"):
            first = message.get("runId") or message.get("run_id")
            if first:
                return f"playground-{first}"
            break
    return f"playground-{run_id}"


class ChatRunnable(_OneAtATimePerThread, Runnable[Any, str]):
    """`{"messages", "input"}` -> the reply, streamed as text; one `Agent.turn()` per call."""

    def __init__(self, get_agent: AgentGetter, name: str, limits: Limits | None = None) -> None:
        self._get_agent = get_agent
        self.name = f"{name}-chat"
        self._input_model = chat_input_model(limits)

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return self._input_model

    @property
    def OutputType(self) -> type[str]:  # noqa: N802 - LangChain's name
        return str

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        return [_THREAD_SPEC]

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> str:
        raise NotImplementedError("the chat runnable runs asynchronously; use ainvoke")

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> str:
        parts = [piece async for piece in self.astream(input, config, **kwargs)]
        return "".join(parts)

    async def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[str]:
        async def one() -> AsyncIterator[Any]:
            yield input

        async for piece in self._atransform_stream_with_config(one(), self._turn, config, **kwargs):
            yield piece

    async def _turn(
        self,
        inputs: AsyncIterator[Any],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> AsyncIterator[str]:
        payload: Any = None
        async for item in inputs:
            payload = item
        data = payload.model_dump() if isinstance(payload, BaseModel) else dict(payload or {})
        messages = [m.model_dump() if isinstance(m, BaseModel) else m for m in data.get("messages") or []]
        text = str(data.get("input") or "")
        thread = _thread_from_config(config) or playground_thread_id(messages, run_manager.run_id)
        async for event in self._get_agent().turn(text, thread_id=thread):
            if isinstance(event, TokenEvent):
                yield event.text
            elif isinstance(event, ErrorEvent):
                raise ChatTurnError(f"{event.code}: {event.message}")


class ChatTurnError(RuntimeError):
    """The turn failed (the thread is restored); the playground shows the message."""


def _requested_threads(body: Any, *, chat: bool) -> list[str]:
    """The thread ids a LangServe request names (`config`, a list of configs for `/batch`, or, for
    the chat runnable, the playground conversation's thread)."""
    if not isinstance(body, dict):
        return []
    config = body.get("config")
    configs = config if isinstance(config, list) else [config]
    threads = [t for c in configs if isinstance(c, dict) and (t := _thread_from_config(c))]  # type: ignore[arg-type]
    if chat and not threads and isinstance(body.get("input"), dict):
        messages = body["input"].get("messages")
        if isinstance(messages, list) and any(isinstance(m, dict) and m.get("runId") for m in messages):
            threads.append(playground_thread_id(messages, None))
    return threads


def _busy_check(get_agent: AgentGetter, *, chat: bool) -> Callable[[Request], Any]:
    """A route dependency: a request for a busy thread is `409` before a stream starts (inside a
    started stream LangServe can only report a generic 500 `error` event)."""

    async def check(request: Request) -> None:
        if request.method != "POST":
            return
        try:
            body = await request.json()
        except ValueError:
            return  # LangServe answers malformed JSON itself
        agent = get_agent()
        for thread in _requested_threads(body, chat=chat):
            if agent.is_busy(thread):
                raise HTTPException(409, f"a turn is already running on thread {thread!r}; wait for it to end")

    return check


def add_langserve_routes(
    app: FastAPI,
    *,
    get_agent: AgentGetter,
    plan: Any,
    path: str,
    playground: bool,
    name: str,
    limits: Limits | None = None,
) -> None:
    """The graph at `path` (its form playground off), the chat runnable at `path/chat` with the chat
    playground, and `path/playground/` redirecting there: the playground people open is the chat."""
    add_routes(
        app,
        GraphRunnable(get_agent, plan, limits),
        path=path,
        dependencies=[Depends(_busy_check(get_agent, chat=False))],
        disabled_endpoints=["playground"],
        enable_feedback_endpoint=False,
        enable_public_trace_link_endpoint=False,
    )
    add_routes(
        app,
        ChatRunnable(get_agent, name, limits),
        path=f"{path}/chat",
        dependencies=[Depends(_busy_check(get_agent, chat=True))],
        playground_type="chat",
        disabled_endpoints=None if playground else ["playground"],
        enable_feedback_endpoint=False,
        enable_public_trace_link_endpoint=False,
    )
    if playground:

        async def to_chat_playground() -> RedirectResponse:
            return RedirectResponse(f"{path}/chat/playground/", status_code=307)

        app.add_api_route(f"{path}/playground", to_chat_playground, methods=["GET"], include_in_schema=False)
        app.add_api_route(f"{path}/playground/", to_chat_playground, methods=["GET"], include_in_schema=False)
