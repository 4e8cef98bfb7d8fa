"""The compiled graph as a LangServe runnable: each run is one `Agent.session` (the turn session)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.utils import ConfigurableFieldSpec
from pydantic import BaseModel

from graphs.agent import Agent, TurnSession
from graphs.plan import Plan
from graphs.server.langserve._schemas import input_model, state_model
from graphs.server.langserve._threads import THREAD_SPEC, OneAtATimePerThread, thread_from_config
from graphs.server.limits import Limits

__all__ = ["GraphRunnable"]


def _graph_input(session: TurnSession, given: Any) -> Any:
    """LangServe's validated input as the graph's: unset slots dropped, messages as plain dicts (which
    `add_messages` turns into messages), and a fresh thread's slot defaults underneath."""
    if isinstance(given, BaseModel):
        given = given.model_dump(exclude_unset=True)
    if not isinstance(given, dict):
        return given
    values = {key: value for key, value in given.items() if value is not None}
    values["messages"] = [m.model_dump() if isinstance(m, BaseModel) else m for m in values.get("messages") or []]
    return session.seed(values)


class GraphRunnable(OneAtATimePerThread, Runnable[Any, Any]):
    """The compiled graph, looked up when called (the agent opens in the app's lifespan).

    A run is an `Agent.session`: it holds its thread (a busy one is `ThreadBusy`, answered 409), a
    fresh thread gets the slot defaults, and a run that fails or is cancelled leaves the thread as
    it was before it.
    """

    def __init__(self, get_agent: Callable[[], Agent], plan: Plan, limits: Limits | None = None) -> None:
        self._get_agent = get_agent
        self.name = plan["name"]
        self._input_model = input_model(plan, limits)
        self._state_model = state_model(plan)

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return self._input_model

    def get_output_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return self._state_model

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        return [THREAD_SPEC]

    @asynccontextmanager
    async def _run(self, given: Any, config: RunnableConfig | None) -> AsyncIterator[tuple[Any, Any, RunnableConfig]]:
        agent = self._get_agent()
        async with agent.session(thread_from_config(config)) as session:
            run_config = RunnableConfig(**(config or {}))
            run_config["configurable"] = {**(run_config.get("configurable") or {}), **session.config["configurable"]}
            yield agent.graph, _graph_input(session, given), run_config

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        raise NotImplementedError("the served graph runs asynchronously; use ainvoke")

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        async with self._run(input, config) as (graph, graph_input, run_config):
            return await graph.ainvoke(graph_input, run_config, **kwargs)

    async def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        async with self._run(input, config) as (graph, graph_input, run_config):
            async for chunk in graph.astream(graph_input, run_config, **kwargs):
                yield chunk

    async def astream_events(  # type: ignore[override]
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        async with self._run(input, config) as (graph, graph_input, run_config):
            async for event in graph.astream_events(graph_input, run_config, **kwargs):
                yield event

    async def astream_log(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        async with self._run(input, config) as (graph, graph_input, run_config):
            async for patch in graph.astream_log(graph_input, run_config, **kwargs):
                yield patch
