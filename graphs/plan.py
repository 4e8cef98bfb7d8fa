"""The plan: the plain-data contract between the toolchain (which writes it) and the runtime.

A plan is JSON: `factory` compiles a spec into it, `generated/<name>/plan.json` ships it in the
image, and `graphs.builder` turns it into a LangGraph `StateGraph`. Prompts are resolved to their
text, model aliases to their settings, sub-specs to nested plans. Nothing here reads YAML.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

__all__ = ["PLAN_VERSION", "EdgePlan", "ModelPlan", "NodePlan", "Plan", "SlotPlan", "ToolPlan"]

PLAN_VERSION = 1

NodeKind = Literal["reply", "agent", "extract", "classify", "tool", "set", "interrupt", "subgraph", "python"]


class ModelPlan(TypedDict):
    provider: Literal["openai", "scripted"]
    model: str | None
    base_url: str | None
    api_key_env: str | None
    temperature: float | None
    max_tokens: int | None
    timeout_s: float | None
    max_retries: int
    streaming: bool


class SlotPlan(TypedDict):
    type: str
    description: str | None
    default: Any
    enum: list[Any] | None
    reducer: Literal["replace", "append", "merge"]


class ToolPlan(TypedDict):
    form: Literal["python", "http", "returns"]
    description: str
    parameters: dict[str, Any] | None
    python: NotRequired[str]
    http: NotRequired[dict[str, Any]]
    returns: NotRequired[Any]


class NodePlan(TypedDict, total=False):
    kind: NodeKind
    description: str | None
    model: str            # alias into Plan.models (LLM kinds)
    prompt: str           # template text (LLM kinds)
    tools: list[str]      # agent
    max_steps: int        # agent
    into: Any             # extract: list of slots; classify/tool/interrupt: a slot
    labels: dict[str, str]  # classify
    tool: str             # tool
    args: dict[str, str]  # tool: CEL
    values: dict[str, str]  # set: CEL
    message: str          # interrupt: template
    plan: Plan            # subgraph: the child plan
    input: dict[str, str]   # subgraph: CEL over parent state
    output: dict[str, str]  # subgraph: CEL over child state
    function: str         # python


class EdgePlan(TypedDict):
    source: str
    target: str
    when: str | None


class Plan(TypedDict):
    plan: int
    name: str
    description: str
    models: dict[str, ModelPlan]
    state: dict[str, SlotPlan]
    prompts: dict[str, str]
    tools: dict[str, ToolPlan]
    nodes: dict[str, NodePlan]
    edges: list[EdgePlan]
    serve: dict[str, Any]
    python_path: list[str]
