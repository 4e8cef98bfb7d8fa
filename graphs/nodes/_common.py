"""What every node kind shares: the build context, event emission, prompt rendering."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer

from graphs.errors import NodeError
from graphs.events import Event, TokenEvent, UsageReport
from graphs.history import SUMMARY_CHANNEL, as_summary, history_for, window
from graphs.plan import AgentNodePlan, ClassifyNodePlan, ExtractNodePlan, Plan, ReplyNodePlan
from graphs.state import LazyMessages, state_view
from graphs.templates import TemplateError, render
from graphs.tools import Toolbox

__all__ = ["NodeContext", "NodeError", "NodeFn", "emit", "prompt_messages", "render_for", "stream_answer",
           "variables"]

LLMNodePlan = ReplyNodePlan | AgentNodePlan | ExtractNodePlan | ClassifyNodePlan

NodeFn = Callable[[dict[str, Any], RunnableConfig], Awaitable[dict[str, Any]]]
NOSTREAM: RunnableConfig = {"tags": ["nostream"]}
"""Config for model calls whose output the user never sees (`extract`, `classify`)."""


@dataclass
class NodeContext:
    plan: Plan
    models: dict[str, BaseChatModel]
    toolbox: Toolbox
    subgraphs: dict[str, Any]


def emit(event: Event | UsageReport) -> None:
    """Write one event of the vocabulary (or a usage report) onto the run's custom stream."""
    get_stream_writer()(event)


class _Prompts(Mapping[str, str]):
    """`prompts.NAME` inside a template: the named prompt, itself rendered over the same state."""

    def __init__(self, texts: dict[str, str], view: dict[str, Any], depth: int = 0) -> None:
        self.texts, self.view, self.depth = texts, view, depth

    def __getitem__(self, name: str) -> str:
        if self.depth > 8:
            raise NodeError("prompts include each other more than 8 levels deep", code="template_error")
        deeper = _Prompts(self.texts, self.view, self.depth + 1)
        return render(self.texts[name], {**self.view, "prompts": deeper})

    def __iter__(self) -> Iterator[str]:
        return iter(self.texts)

    def __len__(self) -> int:
        return len(self.texts)


def variables(ctx: NodeContext, state: dict[str, Any]) -> dict[str, Any]:
    """Template variables: the slots, `messages`, `prompts` and `tools` (name -> description)."""
    view = state_view(state, ctx.plan["state"], messages=False)
    view["messages"] = LazyMessages(state.get("messages", []))
    view["state"] = dict(view)
    view["tools"] = {name: tool["description"] for name, tool in ctx.plan["tools"].items()}
    view["prompts"] = _Prompts(ctx.plan["prompts"], view)
    return view


def render_for(text: str, ctx: NodeContext, state: dict[str, Any]) -> str:
    """Render a template over the state; a failure is the node's `template_error`, not a crash."""
    try:
        return render(text, variables(ctx, state))
    except TemplateError as exc:
        raise NodeError(str(exc), code="template_error") from None


def prompt_messages(ctx: NodeContext, node: LLMNodePlan, state: dict[str, Any]) -> list[BaseMessage]:
    """The system prompt rendered over the state, then the conversation so far, through the node's
    `history` window (`graphs.history`)."""
    system = render_for(node["prompt"], ctx, state)
    seen = window(state.get("messages", []), history_for(ctx.plan, node),
                  model=ctx.plan["models"][node["model"]]["model"], summary=as_summary(state.get(SUMMARY_CHANNEL)))
    return [SystemMessage(system), *seen]


async def _let_readers_run() -> None:
    """Give the event loop to the tasks between this node and the client (LangGraph's stream, the
    turn's pump, the route writing the response: five hand-overs), so that the first token goes out
    before the node reads the rest of a burst. A model that sends its whole answer in one packet
    otherwise delays the first token by the time it takes to process all the others (7.9 ms for 50
    tokens in `benchmarks/bench_streaming.py`). Only after the first token: yielding after every
    token costs ~5 ms of CPU per turn in hand-overs that batching avoids."""
    for _ in range(_HAND_OVERS):
        await asyncio.sleep(0)


_HAND_OVERS = 6


async def stream_answer(model: Any, messages: list[BaseMessage], node_id: str) -> AIMessage:
    """Stream a model call, emitting each text piece as a `token` event; return the whole message.

    Text pieces are joined once at the end; only the chunks that carry tool calls or usage are
    merged (merging every chunk costs a pydantic copy per token).
    """
    pieces: list[str] = []
    structured: AIMessageChunk | None = None
    message_id: str | None = None
    write = get_stream_writer()
    async for chunk in model.astream(messages):
        message_id = message_id or chunk.id
        piece = chunk.text
        if piece:
            write(TokenEvent(text=piece, node=node_id, message_id=message_id))
            pieces.append(piece)
            if len(pieces) == 1:
                await _let_readers_run()
        if chunk.tool_call_chunks or chunk.usage_metadata:
            bare = chunk.model_copy(update={"content": ""})
            structured = bare if structured is None else structured + bare
    usage = structured.usage_metadata if structured is not None else None
    if usage:
        emit(UsageReport(node=node_id, input_tokens=usage.get("input_tokens", 0),
                         output_tokens=usage.get("output_tokens", 0), total_tokens=usage.get("total_tokens", 0)))
    tool_calls = structured.tool_calls if structured is not None else []
    return AIMessage(content="".join(pieces), tool_calls=tool_calls, id=message_id)
