"""Node kinds: one module each, `build(node_id, node, ctx) -> async node function`.

`build_node` dispatches on the plan's `kind` exhaustively (a new kind that is not handled here is a
type error); `NODE_KINDS` in `graphs.plan` is the closed set, and the spec language's registry of
node kinds is tested equal to it.
"""

from __future__ import annotations

from typing import Any, assert_never

from langchain_core.runnables import RunnableConfig

from graphs.events import NodeEvent
from graphs.fixtures import node_path
from graphs.history import SUMMARY_CHANNEL, Summary, as_summary, history_for, needs_summary, summary_request
from graphs.nodes import agent, classify, extract, interrupt, python, reply, subgraph, tool
from graphs.nodes import set as set_node
from graphs.nodes._common import NOSTREAM, NodeContext, NodeError, NodeFn, emit
from graphs.plan import HistoryPlan, NodePlan
from graphs.telemetry._tracing import node_span

__all__ = ["NodeContext", "NodeError", "build_node"]


def _inner(node_id: str, node: NodePlan, ctx: NodeContext) -> NodeFn:
    if node["kind"] == "reply":
        return reply.build(node_id, node, ctx)
    if node["kind"] == "agent":
        return agent.build(node_id, node, ctx)
    if node["kind"] == "extract":
        return extract.build(node_id, node, ctx)
    if node["kind"] == "classify":
        return classify.build(node_id, node, ctx)
    if node["kind"] == "tool":
        return tool.build(node_id, node, ctx)
    if node["kind"] == "set":
        return set_node.build(node_id, node, ctx)
    if node["kind"] == "interrupt":
        return interrupt.build(node_id, node, ctx)
    if node["kind"] == "subgraph":
        return subgraph.build(node_id, node, ctx)
    if node["kind"] == "python":
        return python.build(node_id, node, ctx)
    assert_never(node)


async def _fold_history(model: Any, history: HistoryPlan | None, state: dict[str, Any]) -> Summary | None:
    """The new running summary when the thread passed `summarize_after`, else None."""
    messages = state.get("messages", [])
    summary = as_summary(state.get(SUMMARY_CHANNEL))
    upto = needs_summary(messages, history, summary)
    if upto is None:
        return None
    answer = await model.ainvoke(summary_request(messages, summary, upto), NOSTREAM)
    return Summary(text=answer.text.strip(), covered=upto)


def build_node(node_id: str, node: NodePlan, ctx: NodeContext) -> NodeFn:
    """The node's function, wrapped to announce its start and end on the event stream.

    Events name the node by its path (`collect_address.parse` inside a subgraph node), the same
    name a test's `script` uses, so a turn's `path` shows where inside a sub-spec it went.
    """
    inner = _inner(node_id, node, ctx)
    kind = node["kind"]
    history = history_for(ctx.plan, node)
    summarizer = ctx.models.get(history.get("model") or "") if history and "summarize_after" in history else None

    async def run(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        name = node_path(config, node_id)
        with node_span(name, kind):  # a span per node when tracing (`graphs.telemetry`)
            emit(NodeEvent(node=name, kind=kind, phase="start"))
            folded = await _fold_history(summarizer, history, state) if summarizer is not None else None
            if folded is not None:
                state = {**state, SUMMARY_CHANNEL: folded}
            result = await inner(state, config)
            emit(NodeEvent(node=name, kind=kind, phase="end"))
        return {**result, SUMMARY_CHANNEL: folded} if folded is not None else result

    run.__name__ = node_id
    return run
