"""LangServe routes: the compiled graph at `serve.path`, and a chat-shaped runnable for the playground.

- `serve.path` (`/invoke`, `/batch`, `/stream`, `/stream_events`, `/stream_log`, `/playground/`, the
  schemas): the compiled LangGraph graph itself. Pass `config={"configurable": {"thread_id": ...}}`
  to continue a thread; without one every call starts a new thread.
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

import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from langchain_core.callbacks import AsyncCallbackManagerForChainRun
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.utils import ConfigurableFieldSpec
from langserve import add_routes
from pydantic import BaseModel, Field, create_model

from graphs.agent import Agent
from graphs.state import initial_values

__all__ = [
    "ChatInput",
    "ChatRunnable",
    "GraphRunnable",
    "add_langserve_routes",
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


class GraphRunnable(Runnable[Any, Any]):
    """The compiled graph, looked up when called; a fresh thread gets the slot defaults first."""

    def __init__(self, get_agent: AgentGetter, plan: Any) -> None:
        self._get_agent = get_agent
        self.name = str(plan["name"])
        self._state_model = state_model(plan)

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return self._state_model

    def get_output_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return self._state_model

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        return [_THREAD_SPEC]

    async def _prepare(self, input: Any, config: RunnableConfig | None) -> tuple[Agent, Any, RunnableConfig]:
        agent = self._get_agent()
        prepared: RunnableConfig = RunnableConfig(**(config or {}))
        configurable = dict(prepared.get("configurable") or {})
        configurable["thread_id"] = _thread_from_config(prepared) or uuid.uuid4().hex
        prepared["configurable"] = configurable
        if isinstance(input, BaseModel):
            input = input.model_dump(exclude_unset=True)
        if isinstance(input, dict):
            input = {key: value for key, value in input.items() if value is not None}  # unset slots
            snapshot = await agent.graph.aget_state({"configurable": {"thread_id": configurable["thread_id"]}})
            if not snapshot.values:
                input = {**initial_values(agent.plan["state"]), **input}
        return agent, input, prepared

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        raise NotImplementedError("the served graph runs asynchronously; use ainvoke")

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        agent, input, config = await self._prepare(input, config)
        with agent.reserve(config["configurable"]["thread_id"]):
            return await agent.graph.ainvoke(input, config, **kwargs)

    async def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        agent, input, config = await self._prepare(input, config)
        with agent.reserve(config["configurable"]["thread_id"]):
            async for chunk in agent.graph.astream(input, config, **kwargs):
                yield chunk

    async def astream_events(  # type: ignore[override]
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        agent, input, config = await self._prepare(input, config)
        with agent.reserve(config["configurable"]["thread_id"]):
            async for event in agent.graph.astream_events(input, config, **kwargs):
                yield event

    async def astream_log(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        agent, input, config = await self._prepare(input, config)
        with agent.reserve(config["configurable"]["thread_id"]):
            async for patch in agent.graph.astream_log(input, config, **kwargs):
                yield patch


class ChatInput(BaseModel):
    """What the chat playground sends: the conversation so far and the new message."""

    messages: list[dict[str, Any]] = Field(
        default_factory=list, description="The conversation so far (the playground sends it back)."
    )
    input: str = Field(description="The new user message.")


def playground_thread_id(messages: list[dict[str, Any]], run_id: Any) -> str:
    """The thread of a playground conversation: named after the run that gave its first AI reply."""
    for message in messages:
        if isinstance(message, dict) and message.get("type") in ("ai", "AIMessage", "AIMessageChunk"):
            first = message.get("runId") or message.get("run_id")
            if first:
                return f"playground-{first}"
            break
    return f"playground-{run_id}"


class ChatRunnable(Runnable[Any, str]):
    """`{"messages", "input"}` -> the reply, streamed as text; one `Agent.turn()` per call."""

    def __init__(self, get_agent: AgentGetter, name: str) -> None:
        self._get_agent = get_agent
        self.name = f"{name}-chat"

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return ChatInput

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
            if event.event == "token":
                yield event.data["text"]
            elif event.event == "error":
                raise ChatTurnError(f"{event.data['code']}: {event.data['message']}")


class ChatTurnError(RuntimeError):
    """The turn failed (the thread is restored); the playground shows the message."""


def add_langserve_routes(
    app: FastAPI, *, get_agent: AgentGetter, plan: Any, path: str, playground: bool, name: str
) -> None:
    """The graph at `path` (its form playground off), the chat runnable at `path/chat` with the chat
    playground, and `path/playground/` redirecting there: the playground people open is the chat."""
    add_routes(
        app,
        GraphRunnable(get_agent, plan),
        path=path,
        disabled_endpoints=["playground"],
        enable_feedback_endpoint=False,
        enable_public_trace_link_endpoint=False,
    )
    add_routes(
        app,
        ChatRunnable(get_agent, name),
        path=f"{path}/chat",
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
