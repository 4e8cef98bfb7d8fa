"""The spec language as pydantic models: the contract users write (see SPEC.md).

Every model forbids unknown keys. Field docstrings become descriptions in the JSON Schema, which is
what an editor shows while a user types a spec. Cross-references (node ids, slots, tools, prompts)
are checked later, in `checks.py`, so every problem is reported together.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "AgentNode", "ClassifyNode", "Edge", "Expectation", "ExtractNode", "FixSettings", "HttpCall",
    "InterruptNode", "ModelSettings", "Node", "PromptFile", "PythonNode", "ReplyNode", "ServeSettings",
    "SetNode", "Slot", "Spec", "SubgraphNode", "TestCase", "Tool", "ToolCallExpect", "ToolNode", "Turn",
    "USER_FACING_KINDS",
]

NAME_RE = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
ID_RE = r"^[A-Za-z_][A-Za-z0-9_]*$"
SLOT_TYPE_RE = r"^(string|integer|number|boolean|object|list\[(string|integer|number|boolean|object)\])$"
USER_FACING_KINDS = frozenset({"reply", "agent", "interrupt"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# ---------------------------------------------------------------- models


class ModelSettings(_Model):
    """A model a node can name by its alias."""

    provider: Literal["openai", "scripted"]
    """`openai`: langchain-openai ChatOpenAI (also Ollama, vLLM, LM Studio via `base_url`);
    `scripted`: offline, deterministic."""
    model: str | None = None
    """The model name sent to the server, e.g. `gpt-4o-mini`. Defaults to `OPENAI_MODEL` or `gpt-4o-mini`."""
    base_url: str | None = None
    """An OpenAI-compatible server URL. Defaults to `OPENAI_BASE_URL`."""
    api_key_env: str | None = None
    """The name of the environment variable that holds the API key (never the key). Defaults to `OPENAI_API_KEY`."""
    temperature: float | None = Field(default=None, ge=0, le=2)
    """Sampling temperature."""
    max_tokens: int | None = Field(default=None, gt=0)
    """Upper bound on generated tokens per call."""
    timeout_s: float | None = Field(default=60, gt=0)
    """Seconds before a model call is abandoned."""
    max_retries: int = Field(default=2, ge=0, le=10)
    """Retries on transient errors (429, 5xx)."""
    streaming: bool = True
    """Stream tokens. Must stay true for models used by user-facing nodes (the streaming rule)."""


# ---------------------------------------------------------------- state and prompts


class Slot(_Model):
    """One typed slot of the agent's state."""

    type: str = Field(default="string", pattern=SLOT_TYPE_RE)
    """`string`, `integer`, `number`, `boolean`, `object` or `list[T]`."""
    description: str | None = None
    """What the slot holds; extract nodes show it to the model."""
    default: Any = None
    """The value before anything sets it (`null` when absent; `[]` for lists with the append reducer)."""
    enum: list[Any] | None = None
    """The only values the slot may take."""
    reducer: Literal["replace", "append", "merge"] = "replace"
    """How a node's write combines with the old value: `replace`, `append` (lists), `merge` (objects)."""


class PromptFile(_Model):
    """A prompt kept in its own file, inside the spec's folder."""

    file: str
    """Path relative to the spec's folder."""


# ---------------------------------------------------------------- tools


class HttpCall(_Model):
    """An HTTP request made by a tool; url, headers and body are templates over the tool's arguments."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    """Header templates. Secrets only through `headers_env`."""
    headers_env: dict[str, str] = Field(default_factory=dict)
    """Header name -> name of the environment variable that holds its value."""
    body: Any = None
    """A JSON body; string values are templates."""
    timeout_s: float = Field(default=10, gt=0)


class Tool(_Model):
    """A tool: exactly one of `python`, `http` or `returns`."""

    description: str
    """What the tool does; the model reads it."""
    python: str | None = Field(default=None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    """`module:function`; parameters come from its signature and type hints."""
    http: HttpCall | None = None
    """An HTTP call."""
    returns: Any = None
    """A fixed result (a canned tool)."""
    parameters: dict[str, Any] | None = None
    """JSON Schema of the arguments (an object schema)."""


# ---------------------------------------------------------------- nodes


class _NodeBase(_Model):
    description: str | None = None
    """What the node is for (shown in `factory graph` and the playground)."""


class _LLMNode(_NodeBase):
    model: str | None = None
    """A `models` alias; defaults to `default_model`."""
    prompt: str
    """A name from `prompts`, or the prompt text itself (a Jinja template over the state)."""


class ReplyNode(_LLMNode):
    """One LLM answer to the user, streamed token by token."""

    kind: Literal["reply"]
    stream: bool = True
    """Must stay true: a user-facing node streams (the streaming rule)."""


class AgentNode(_LLMNode):
    """An LLM with tools in a loop until it answers; the answer streams."""

    kind: Literal["agent"]
    tools: list[str] = Field(default_factory=list)
    """Tool names the model may call."""
    max_steps: int = Field(default=5, ge=1, le=50)
    """Model calls before the node gives up."""
    stream: bool = True
    """Must stay true (the streaming rule)."""


class ExtractNode(_LLMNode):
    """Structured output into slots; never shown to the user."""

    kind: Literal["extract"]
    into: list[str] = Field(min_length=1)
    """Slots to fill."""


class ClassifyNode(_LLMNode):
    """The LLM picks one label; never shown to the user."""

    kind: Literal["classify"]
    labels: dict[str, str] = Field(min_length=2)
    """Label -> when to pick it."""
    into: str
    """The slot that receives the label."""


class ToolNode(_NodeBase):
    """Calls one tool with CEL arguments."""

    kind: Literal["tool"]
    tool: str
    """A name from `tools`."""
    args: dict[str, str] = Field(default_factory=dict)
    """Argument -> CEL expression over `state`."""
    into: str | None = None
    """The slot that receives the result."""


class SetNode(_NodeBase):
    """Sets slots from CEL expressions."""

    kind: Literal["set"]
    values: dict[str, str] = Field(min_length=1)
    """Slot -> CEL expression over `state`."""


class InterruptNode(_NodeBase):
    """Pauses the run and asks the user; the next user message on the thread resumes it."""

    kind: Literal["interrupt"]
    message: str
    """The question (a Jinja template): that turn's reply."""
    into: str
    """The slot that receives the user's answer."""
    stream: bool = True
    """Must stay true (the streaming rule)."""


class SubgraphNode(_NodeBase):
    """Runs another spec as one node."""

    kind: Literal["subgraph"]
    spec: str
    """Path of the other spec, relative to this spec's folder."""
    input: dict[str, str] = Field(default_factory=dict)
    """Child slot -> CEL expression over this spec's `state`."""
    output: dict[str, str] = Field(default_factory=dict)
    """Slot here -> CEL expression over the child's final `state`."""


class PythonNode(_NodeBase):
    """Escape hatch: `module:function(state) -> dict` of slot updates."""

    kind: Literal["python"]
    function: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    """`module:function`, resolved from the spec's folder first."""


Node = Annotated[
    ReplyNode | AgentNode | ExtractNode | ClassifyNode | ToolNode | SetNode | InterruptNode | SubgraphNode
    | PythonNode,
    Field(discriminator="kind"),
]


class Edge(_Model):
    """A transition; edges leaving one node are tried in order, the first whose `when` holds wins."""

    from_: str = Field(alias="from")
    """A node id or `start`."""
    to: str
    """A node id or `end`."""
    when: str | None = None
    """A CEL condition over `state`; absent means always."""


# ---------------------------------------------------------------- serve, tests, fix


class Auth(_Model):
    api_keys_env: str
    """Environment variable holding accepted API keys, comma-separated."""


class ServeSettings(_Model):
    """How `factory serve` and the image serve the agent."""

    path: str | None = Field(default=None, pattern=r"^/[A-Za-z0-9_\-/]*$")
    """LangServe route prefix (default `/<name>`)."""
    checkpointer: str = "sqlite:///threads.sqlite"
    """`memory`, `sqlite:///file` or `postgres://...` (a URL with secrets belongs in `FACTORY_CHECKPOINTER`)."""
    auth: Auth | None = None
    """Require an API key (`Authorization: Bearer` or `X-API-Key`)."""
    cors_origins: list[str] = Field(default_factory=list)
    playground: bool = True
    """Serve LangServe's chat playground."""
    max_message_chars: int = Field(default=8000, gt=0)
    """Longest user message accepted (422 above)."""
    max_body_bytes: int = Field(default=65536, gt=0)
    """Largest HTTP body or WebSocket frame accepted (413 above)."""


class ToolCallExpect(_Model):
    name: str
    args: dict[str, Any] | None = None
    """Arguments that must match (a subset)."""


class Expectation(_Model):
    """One check on a turn: exactly one key."""

    contains: str | None = None
    not_contains: str | None = None
    matches: str | None = None
    visited: list[str] | None = None
    not_visited: list[str] | None = None
    state: dict[str, Any] | None = None
    assert_: str | None = Field(default=None, alias="assert")
    tool_called: ToolCallExpect | None = None
    first_token_ms: float | None = Field(default=None, gt=0)
    total_ms: float | None = Field(default=None, gt=0)
    judge: str | None = None

    def kind(self) -> str:
        """The one key that is set."""
        (name,) = self.model_fields_set
        return "assert" if name == "assert_" else name

    @field_validator("matches")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class Turn(_Model):
    user: str
    """What the user says (also the answer when the agent is waiting at an interrupt)."""
    expect: list[Expectation] = Field(default_factory=list)


class TestCase(_Model):
    """One scripted conversation."""

    name: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    repeat: int = Field(default=1, ge=1, le=100)
    min_pass_rate: float = Field(default=1.0, ge=0, le=1)
    mocks: dict[str, Any] = Field(default_factory=dict)
    """Tool name -> the result to return instead of calling it."""
    script: dict[str, list[Any]] = Field(default_factory=dict)
    """Node id -> replies of the scripted model for that node, in order (offline runs only)."""
    turns: list[Turn] = Field(min_length=1)


class FixSettings(_Model):
    """What `factory fix` may change, and its budget."""

    editable: list[str] = Field(default_factory=lambda: ["/prompts/*", "/nodes/*/prompt", "/edges/*/when"])
    """JSON Pointer globs the patcher may touch."""
    max_iterations: int = Field(default=5, ge=1, le=50)
    model: str | None = None
    """A `models` alias for the patcher (default `default_model`)."""
    max_llm_calls: int = Field(default=20, ge=1, le=500)
    max_wall_s: float = Field(default=1800, gt=0)
    """Wall-clock cap of one `factory fix` run."""


class Spec(_Model):
    """One conversational agent."""

    schema_: str | None = Field(default=None, alias="$schema")
    spec: Literal[1]
    """Format version (required)."""
    name: str = Field(pattern=NAME_RE)
    """Lowercase DNS label: routes, image tag, Kubernetes names."""
    description: str = ""
    """One paragraph, shown in the playground and `factory --help`."""
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    default_model: str | None = None
    """The alias used by nodes that name none."""
    state: dict[str, Slot] = Field(default_factory=dict)
    prompts: dict[str, str | PromptFile] = Field(default_factory=dict)
    tools: dict[str, Tool] = Field(default_factory=dict)
    nodes: dict[str, Node] = Field(min_length=1)
    edges: list[Edge] = Field(min_length=1)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    tests: list[TestCase] = Field(default_factory=list)
    fix: FixSettings = Field(default_factory=FixSettings)

    @field_validator("spec", mode="before")
    @classmethod
    def _version_is_an_integer(cls, value: Any) -> Any:
        # `True == 1` in Python: `spec: true` (or `1.0`) must not pass for version 1.
        if type(value) is not int:
            raise ValueError("the format version is an integer")
        return value
