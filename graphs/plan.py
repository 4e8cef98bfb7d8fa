"""The plan: the plain-data contract between the toolchain (which writes it) and the runtime.

A plan is JSON: `factory` compiles a spec into it, `generated/<name>/plan.json` ships it in the
image, and `graphs.builder` turns it into a LangGraph `StateGraph`. Prompts are resolved to their
text, model aliases to their settings, sub-specs to nested plans. Nothing here reads YAML.

Every closed set is one `Literal`; a node's plan is a union discriminated by `kind` (narrow it with
`node["kind"] == "reply"`, end the chain with `assert_never`). The defaults of the `serve` settings
live here (`SERVE_DEFAULTS`), and the slot-type grammar (`string`, `list[integer]`...) is parsed
only by `parse_slot_type`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypeAlias, TypedDict, get_args

__all__ = [
    "MODEL_PROVIDERS",
    "NODE_KINDS",
    "PLAN_VERSION",
    "SCALAR_TYPES",
    "SERVE_DEFAULTS",
    "SLOT_TYPE_PATTERN",
    "AgentNodePlan",
    "AuthPlan",
    "ClassifyNodePlan",
    "EdgePlan",
    "ExtractNodePlan",
    "HistoryPlan",
    "HttpCallPlan",
    "InterruptNodePlan",
    "McpServerPlan",
    "ModelPlan",
    "ModelProvider",
    "NodeKind",
    "NodePlan",
    "Plan",
    "PythonNodePlan",
    "Reducer",
    "ReplyNodePlan",
    "ScalarType",
    "ServePlan",
    "SetNodePlan",
    "SlotPlan",
    "SlotType",
    "SubgraphNodePlan",
    "ToolForm",
    "ToolNodePlan",
    "ToolPlan",
    "node_model",
    "parse_slot_type",
    "serve_settings",
]

PLAN_VERSION = 1

NodeKind = Literal["reply", "agent", "extract", "classify", "tool", "set", "interrupt", "subgraph", "python"]
NODE_KINDS: tuple[NodeKind, ...] = get_args(NodeKind)
ModelProvider = Literal["openai", "scripted"]
MODEL_PROVIDERS: tuple[ModelProvider, ...] = get_args(ModelProvider)
Reducer = Literal["replace", "append", "merge"]
ToolForm = Literal["python", "http", "returns", "mcp"]
ScalarType = Literal["string", "integer", "number", "boolean", "object"]
SCALAR_TYPES: tuple[ScalarType, ...] = get_args(ScalarType)

# ---------------------------------------------------------------------------------- slot types

SLOT_TYPE_PATTERN = rf"^({'|'.join(SCALAR_TYPES)}|list\[({'|'.join(SCALAR_TYPES)})\])$"
"""The slot-type grammar: a scalar type, or `list[` scalar `]`."""
_SLOT_TYPE = re.compile(SLOT_TYPE_PATTERN)


@dataclass(frozen=True, slots=True)
class SlotType:
    """A parsed slot type: `item` is the scalar; `is_list` for `list[item]`."""

    item: ScalarType
    is_list: bool

    def __str__(self) -> str:
        return f"list[{self.item}]" if self.is_list else self.item


def parse_slot_type(text: str) -> SlotType:
    """`"list[integer]"` -> `SlotType("integer", is_list=True)`.

    Raises:
        ValueError: `text` is not in the grammar (`SLOT_TYPE_PATTERN`).
    """
    if not _SLOT_TYPE.match(text):
        raise ValueError(f"unknown slot type {text!r}; use one of {', '.join(SCALAR_TYPES)} or list[T]")
    if text.startswith("list["):
        return SlotType(text[5:-1], True)  # type: ignore[arg-type]  # the pattern admits only scalars
    return SlotType(text, False)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- parts


class HistoryPlan(TypedDict, total=False):
    """Which messages a model call sees: the last N, a token budget, or a running summary."""

    last: int
    max_tokens: int
    summarize_after: int
    model: str


class ModelPlan(TypedDict):
    provider: ModelProvider
    model: str | None
    base_url: str | None
    api_key_env: str | None
    temperature: float | None
    max_tokens: int | None
    timeout_s: float | None
    max_retries: int
    streaming: bool
    history: NotRequired[HistoryPlan | None]


class SlotPlan(TypedDict):
    type: str
    description: str | None
    default: Any
    enum: list[Any] | None
    reducer: Reducer


class HttpCallPlan(TypedDict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: str
    headers: dict[str, str]
    headers_env: dict[str, str]
    body: Any
    timeout_s: float


class ToolPlan(TypedDict):
    form: ToolForm
    description: str
    parameters: dict[str, Any] | None
    python: NotRequired[str]
    http: NotRequired[HttpCallPlan]
    returns: NotRequired[Any]
    mcp: NotRequired[str]
    """`server/tool` of an entry of `Plan.mcp_servers`."""


class McpServerPlan(TypedDict):
    """One MCP server: `command` (stdio) or `url` (streamable HTTP), never both."""

    command: NotRequired[str]
    args: NotRequired[list[str]]
    env: NotRequired[list[str]]
    url: NotRequired[str]
    headers: NotRequired[dict[str, str]]
    """Header name -> the environment variable that holds its value."""
    tools: NotRequired[list[str] | None]


class EdgePlan(TypedDict):
    source: str
    target: str
    when: str | None


# ---------------------------------------------------------------------------------- nodes


class _NodeBase(TypedDict):
    description: str | None


class _LLMNodeBase(_NodeBase):
    model: str
    """An alias into `Plan.models`."""
    prompt: str
    """The template text."""
    history: NotRequired[HistoryPlan | None]


class ReplyNodePlan(_LLMNodeBase):
    kind: Literal["reply"]


class AgentNodePlan(_LLMNodeBase):
    kind: Literal["agent"]
    tools: list[str]
    max_steps: int


class ExtractNodePlan(_LLMNodeBase):
    kind: Literal["extract"]
    into: list[str]


class ClassifyNodePlan(_LLMNodeBase):
    kind: Literal["classify"]
    labels: dict[str, str]
    into: str


class ToolNodePlan(_NodeBase):
    kind: Literal["tool"]
    tool: str
    args: dict[str, str]
    """Argument -> CEL over `state`."""
    into: str | None


class SetNodePlan(_NodeBase):
    kind: Literal["set"]
    values: dict[str, str]
    """Slot -> CEL over `state`."""


class InterruptNodePlan(_NodeBase):
    kind: Literal["interrupt"]
    message: str
    """A template: the question."""
    into: str


class SubgraphNodePlan(_NodeBase):
    kind: Literal["subgraph"]
    plan: Plan
    input: dict[str, str]
    """Child slot -> CEL over this state."""
    output: dict[str, str]
    """Slot here -> CEL over the child's final state."""


class PythonNodePlan(_NodeBase):
    kind: Literal["python"]
    function: str


NodePlan: TypeAlias = (
    ReplyNodePlan | AgentNodePlan | ExtractNodePlan | ClassifyNodePlan | ToolNodePlan | SetNodePlan
    | InterruptNodePlan | SubgraphNodePlan | PythonNodePlan
)


def node_model(node: NodePlan) -> str | None:
    """The model alias a node calls, or None for kinds that call no model."""
    if node["kind"] == "reply" or node["kind"] == "agent" or node["kind"] == "extract" \
            or node["kind"] == "classify":
        return node["model"]
    return None


# ---------------------------------------------------------------------------------- serve


class AuthPlan(TypedDict):
    api_keys_env: str


class ServePlan(TypedDict):
    path: str | None
    checkpointer: str
    auth: AuthPlan | None
    cors_origins: list[str]
    playground: bool
    max_message_chars: int
    max_body_bytes: int
    broker: NotRequired[str | None]
    """`redis://...`: run streams shared by every replica (none: in-process)."""
    grace_s: NotRequired[float]
    """On SIGTERM, how long in-flight turns may run before they are cancelled."""
    workers: NotRequired[int]
    """Server processes on one host (`factory serve --workers` wins)."""


SERVE_DEFAULTS: ServePlan = {
    "path": None,
    "checkpointer": "sqlite:///threads.sqlite",
    "auth": None,
    "cors_origins": [],
    "playground": True,
    "max_message_chars": 8000,
    "max_body_bytes": 65536,
    "broker": None,
    "grace_s": 30.0,
    "workers": 1,
}
"""The one place the serve defaults are written (the spec language and the server both read it)."""


def serve_settings(plan: Plan) -> ServePlan:
    """The plan's `serve` settings with every default filled in (older plans may lack newer keys)."""
    merged: dict[str, Any] = {**SERVE_DEFAULTS, **{k: v for k, v in plan.get("serve", {}).items() if v is not None}}
    return merged  # type: ignore[return-value]


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
    serve: ServePlan
    python_path: list[str]
    mcp_servers: NotRequired[dict[str, McpServerPlan]]
