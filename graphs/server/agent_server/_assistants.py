"""`GET /info`, `GET /ok` and the assistants: one per served spec, its id the graph id (the spec's name).

The graph (`/assistants/{id}/graph`) and the schemas (`/assistants/{id}/schemas`) come from the plan:
nodes with their kind, edges with their `when` condition, and JSON Schemas of the slots.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, Path, Query, Request

from graphs.plan import Plan, SlotPlan, parse_slot_type
from graphs.server.agent_server._context import Context, context
from graphs.server.agent_server._models import AssistantOut, AssistantSearch, ErrorOut
from graphs.threads import metadata_contains

__all__ = ["assistant_graph", "assistant_schemas", "router"]

router = APIRouter(tags=["agent server: assistants"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "No such assistant."}}
_ENDPOINTS = {"start": "__start__", "end": "__end__"}


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


@router.get("/ok", tags=["agent server"])
async def ok() -> dict[str, bool]:
    """Liveness, as LangGraph's server answers it."""
    return {"ok": True}


@router.get("/info", tags=["agent server"])
async def info(request: Request) -> dict[str, Any]:
    """What this server is and which parts of the API it offers."""
    ctx = context(request)
    return {
        "version": _version("meta-agent-factory") or "0",
        "langgraph_py_version": _version("langgraph"),
        "flags": {"assistants": True, "crons": False, "langsmith": False, "langsmith_tracing_replicas": False},
        "metadata": {"server": "meta-agent-factory", "graph_id": ctx.graph_id},
    }


def _assistant(ctx: Context) -> AssistantOut:
    plan = ctx.plan
    return AssistantOut(
        assistant_id=ctx.graph_id, graph_id=ctx.graph_id, config={}, context={},
        created_at=ctx.api.started_at, updated_at=ctx.api.started_at, metadata={"created_by": "system"},
        version=1, name=ctx.graph_id, description=plan.get("description") or None,
    )


def _found(request: Request, assistant_id: str) -> Context:
    ctx = context(request)
    ctx.check_assistant(assistant_id)
    return ctx


AssistantId = Path(min_length=1, max_length=256, description="The graph id (the spec's name).")


@router.post("/assistants/search", response_model=list[AssistantOut])
async def search_assistants(body: AssistantSearch, request: Request) -> list[AssistantOut]:
    """The served assistant, when it matches `graph_id`, `name` (a case-insensitive part) and `metadata`."""
    ctx = context(request)
    one = _assistant(ctx)
    matches = (body.graph_id in (None, one.graph_id)
               and (body.name is None or body.name.lower() in one.name.lower())
               and metadata_contains(one.metadata, body.metadata or {}))
    return [one][body.offset:body.offset + body.limit] if matches else []


@router.get("/assistants/{assistant_id}", response_model=AssistantOut, responses=_NOT_FOUND)
async def get_assistant(request: Request, assistant_id: str = AssistantId) -> AssistantOut:
    return _assistant(_found(request, assistant_id))


@router.get("/assistants/{assistant_id}/graph", responses=_NOT_FOUND)
async def get_assistant_graph(
    request: Request,
    assistant_id: str = AssistantId,
    xray: bool | int = Query(default=False, description="Accepted; subgraph nodes are shown as one node."),
) -> dict[str, Any]:
    """Nodes (with their kind) and edges (with their `when`) as LangGraph draws a graph."""
    return assistant_graph(_found(request, assistant_id).plan)


@router.get("/assistants/{assistant_id}/schemas", responses=_NOT_FOUND)
async def get_assistant_schemas(request: Request, assistant_id: str = AssistantId) -> dict[str, Any]:
    """JSON Schemas: the input a run takes (a user message), the state (messages and the slots)."""
    return assistant_schemas(_found(request, assistant_id).plan)


def assistant_graph(plan: Plan) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"id": "__start__", "type": "schema", "data": "__start__"}]
    for node_id, node in plan["nodes"].items():
        nodes.append({
            "id": node_id, "type": "runnable", "data": {"id": ["factory", node["kind"]], "name": node_id},
            "metadata": {"kind": node["kind"], "description": node.get("description")},
        })
    nodes.append({"id": "__end__", "type": "schema", "data": "__end__"})
    fan_out: dict[str, int] = {}
    for edge in plan["edges"]:
        fan_out[edge["source"]] = fan_out.get(edge["source"], 0) + 1
    edges = []
    for edge in plan["edges"]:
        one: dict[str, Any] = {"source": _ENDPOINTS.get(edge["source"], edge["source"]),
                               "target": _ENDPOINTS.get(edge["target"], edge["target"]),
                               "conditional": fan_out[edge["source"]] > 1}
        if edge["when"] is not None:
            one["data"] = edge["when"]
        edges.append(one)
    return {"nodes": nodes, "edges": edges}


def _title(plan: Plan, suffix: str) -> str:
    return "".join(part.title() for part in str(plan["name"]).replace("_", "-").split("-")) + suffix


_MESSAGES = {
    "type": "array", "title": "Messages",
    "items": {"type": "object", "properties": {"type": {"type": "string"}, "content": {}}},
    "description": "The conversation (LangChain messages).",
}


def _slot_schema(slot: SlotPlan) -> dict[str, Any]:
    parsed = parse_slot_type(slot["type"])
    item: dict[str, Any] = {"type": parsed.item}
    if slot.get("enum"):
        item["enum"] = list(slot["enum"] or [])
    schema: dict[str, Any] = {"type": "array", "items": item} if parsed.is_list else item
    if slot.get("description"):
        schema["description"] = slot["description"]
    if slot.get("default") is not None:
        schema["default"] = slot["default"]
    return schema


def assistant_schemas(plan: Plan) -> dict[str, Any]:
    state = {
        "title": _title(plan, "State"), "type": "object",
        "properties": {"messages": _MESSAGES, **{name: _slot_schema(s) for name, s in plan["state"].items()}},
    }
    run_input = {
        "title": _title(plan, "Input"), "type": "object", "required": ["messages"],
        "properties": {"messages": {**_MESSAGES, "minItems": 1, "maxItems": 1,
                                    "description": "The user's new message (the thread keeps the conversation)."}},
    }
    return {
        "graph_id": plan["name"],
        "input_schema": run_input,
        "output_schema": state,
        "state_schema": state,
        "config_schema": {"title": "Configurable", "type": "object", "properties": {}},
        "context_schema": None,
    }
