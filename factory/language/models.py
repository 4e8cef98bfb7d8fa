"""The spec language as pydantic models: the contract users write (see `docs/language.md`).

Every model forbids unknown keys. Field docstrings become descriptions in the JSON Schema, which is
what an editor shows while a user types a spec, and the generated tables of `docs/language.md`.
Shapes only: cross-references (node ids, slots, tools, prompts) are checked later, by the checks
of this package, so every problem is reported together. The conversations (`tests:`) and the fix
loop's settings (`fix:`) are defined in `_conversations` and exported here with the rest.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from factory.language._conversations import (
    Expectation,
    FixSettings,
    HoldoutShare,
    Simulate,
    TestCase,
    ToolCallExpect,
    Turn,
)
from factory.language._model import _Model
from graphs.plan import SERVE_DEFAULTS, SLOT_TYPE_PATTERN, ModelProvider, Reducer

__all__ = [
    "AgentNode", "Auth", "ClassifyNode", "Edge", "Expectation", "ExtractNode", "FixSettings", "History",
    "HttpCall", "InterruptNode", "McpServer", "ModelSettings", "Node", "PromptFile", "PythonNode", "ReplyNode",
    "HoldoutShare", "ServeSettings", "SetNode", "Simulate", "Slot", "Spec", "SubgraphNode", "TestCase", "Tool",
    "ToolCallExpect", "ToolNode", "Turn",
]

NAME_RE = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
ID_RE = r"^[A-Za-z_][A-Za-z0-9_]*$"
FUNCTION_RE = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"
MCP_TOOL_RE = r"^[A-Za-z0-9_-]+/[^/\s]+$"


class History(_Model):
    """Which earlier messages a model call sees: exactly one of `last`, `max_tokens` or
    `summarize_after` (with `model`). Tool calls and their results are never split."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["last"]}, {"required": ["max_tokens"]}, {"required": ["summarize_after", "model"]}]})

    last: int | None = Field(default=None, gt=0)
    """Only the last N messages."""
    max_tokens: int | None = Field(default=None, gt=0)
    """As many recent messages as fit in N tokens."""
    summarize_after: int | None = Field(default=None, gt=0)
    """Past N messages, older turns are folded into a running summary (written by `model`)."""
    model: str | None = None
    """The `models` alias that writes the summary (with `summarize_after` only)."""


class ModelSettings(_Model):
    """A model a node can name by its alias."""

    provider: ModelProvider
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
    history: History | None = None
    """The context window of every node on this model (a node's own `history` wins)."""


class Slot(_Model):
    """One typed slot of the agent's state."""

    type: str = Field(default="string", pattern=SLOT_TYPE_PATTERN)
    """`string`, `integer`, `number`, `boolean`, `object` or `list[T]`."""
    description: str | None = None
    """What the slot holds; extract nodes show it to the model."""
    default: Any = None
    """The value before anything sets it (`null` when absent; `[]` for lists with the append reducer)."""
    enum: list[Any] | None = None
    """The only values the slot may take."""
    reducer: Reducer = "replace"
    """How a node's write combines with the old value: `replace`, `append` (lists), `merge` (objects)."""


class PromptFile(_Model):
    """A prompt kept in its own file, inside the spec's folder."""

    file: str
    """Path relative to the spec's folder."""


class HttpCall(_Model):
    """An HTTP request made by a tool; url, headers and body are templates over the tool's arguments."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    """The HTTP method."""
    url: str
    """A template over the arguments (each argument is percent-encoded into it)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Header templates. Secrets only through `headers_env`."""
    headers_env: dict[str, str] = Field(default_factory=dict)
    """Header name -> name of the environment variable that holds its value."""
    body: Any = None
    """A JSON body; string values are templates."""
    timeout_s: float = Field(default=10, gt=0)
    """Seconds before the call is abandoned."""


class Tool(_Model):
    """A tool: exactly one of `python`, `http`, `returns` or `mcp`."""

    description: str
    """What the tool does; the model reads it."""
    python: str | None = Field(default=None, pattern=FUNCTION_RE)
    """`module:function` in the spec's folder; parameters come from its signature and type hints."""
    http: HttpCall | None = None
    """An HTTP call."""
    returns: Any = None
    """A fixed result (a canned tool)."""
    mcp: str | None = Field(default=None, pattern=MCP_TOOL_RE)
    """`server/tool`: a tool of an entry of `mcp_servers`."""
    parameters: dict[str, Any] | None = None
    """JSON Schema of the arguments (an object schema)."""


class McpServer(_Model):
    """A Model Context Protocol server whose tools the spec's tools may name (`mcp: server/tool`).

    Exactly one transport: `command` (stdio; `args`, `env`) or `url` (streamable HTTP; `headers`).
    """

    command: str | None = None
    """stdio: the program to start; it runs in the spec's folder. `python` (or `python3`) is the
    interpreter the agent runs with."""
    args: list[str] = Field(default_factory=list)
    """stdio: its arguments."""
    env: list[str] = Field(default_factory=list)
    """stdio: names of environment variables passed through to it; of the rest it gets only the basics
    the `mcp` SDK always passes (`PATH`, `HOME`, `LOGNAME`, `SHELL`, `TERM`, `USER`)."""
    url: str | None = None
    """Streamable HTTP: the server's URL (`https://...`)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Streamable HTTP: header name -> name of the environment variable that holds its value (never
    the value itself)."""
    tools: list[str] | None = None
    """The only tools of the server the spec may use (all when absent)."""


class _NodeBase(_Model):
    description: str | None = None
    """What the node is for (shown in `factory graph` and the playground)."""


class _LLMNode(_NodeBase):
    model: str | None = None
    """A `models` alias; defaults to `default_model`."""
    prompt: str
    """A name from `prompts` (one word: letters, digits, `_`, `-`), or the prompt text itself (a
    Jinja template over the state)."""
    history: History | None = None
    """The context window of this node's model calls (default: its model's `history`, else all)."""


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
    function: str = Field(pattern=FUNCTION_RE)
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


class Auth(_Model):
    """API-key authentication of the served agent."""

    api_keys_env: str
    """Environment variable holding accepted API keys, comma-separated."""


class ServeSettings(_Model):
    """How `factory serve` and the image serve the agent (defaults: `graphs.plan.SERVE_DEFAULTS`)."""

    path: str | None = Field(default=SERVE_DEFAULTS["path"], pattern=r"^/[A-Za-z0-9_\-/]*$")
    """LangServe route prefix (default `/<name>`)."""
    checkpointer: str = SERVE_DEFAULTS["checkpointer"]
    """`memory`, `sqlite:///file` or `postgres://...` (a URL with secrets belongs in `FACTORY_CHECKPOINTER`)."""
    auth: Auth | None = None
    """Require an API key (`Authorization: Bearer` or `X-API-Key`)."""
    cors_origins: list[str] = Field(default_factory=lambda: list(SERVE_DEFAULTS["cors_origins"]))
    """Origins a browser may call the agent from."""
    playground: bool = SERVE_DEFAULTS["playground"]
    """Serve LangServe's chat playground."""
    max_message_chars: int = Field(default=SERVE_DEFAULTS["max_message_chars"], gt=0)
    """Longest user message accepted (422 above)."""
    max_body_bytes: int = Field(default=SERVE_DEFAULTS["max_body_bytes"], gt=0)
    """Largest HTTP body or WebSocket frame accepted (413 above)."""
    broker: str | None = SERVE_DEFAULTS["broker"]
    """`redis://host:6379/0` or `rediss://...`: run streams shared by every replica (none: in-process)."""
    grace_s: float = Field(default=SERVE_DEFAULTS["grace_s"], gt=0)
    """On SIGTERM, how long in-flight turns may run before they are cancelled."""
    workers: int = Field(default=SERVE_DEFAULTS["workers"], ge=1, le=64)
    """Server processes on one host, sharing the checkpointer (`factory serve --workers` wins)."""


class Spec(_Model):
    """One conversational agent."""

    schema_: str | None = Field(default=None, alias="$schema")
    """The JSON Schema the file follows (editors read it)."""
    spec: Literal[1]
    """Format version (required)."""
    name: str = Field(pattern=NAME_RE)
    """Lowercase DNS label: routes, image tag, Kubernetes names."""
    description: str = ""
    """One paragraph, shown in the playground and `factory --help`."""
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    """Alias -> model settings."""
    default_model: str | None = None
    """The alias used by nodes that name none (needed when there are several models)."""
    state: dict[str, Slot] = Field(default_factory=dict)
    """Slot -> its type; `messages` (the conversation) always exists."""
    prompts: dict[str, str | PromptFile] = Field(default_factory=dict)
    """Name -> prompt text, or `{file: path}`; nodes name them in `prompt:`."""
    tools: dict[str, Tool] = Field(default_factory=dict)
    """Name -> tool; `agent` and `tool` nodes name them."""
    mcp_servers: dict[str, McpServer] = Field(default_factory=dict)
    """Name -> an MCP server whose tools `tools:` may name as `mcp: name/tool`."""
    nodes: dict[str, Node] = Field(json_schema_extra={"minProperties": 1})
    """Node id -> node (at least one)."""
    edges: list[Edge] = Field(json_schema_extra={"minItems": 1})
    """Transitions (at least one, from `start`)."""
    serve: ServeSettings = Field(default_factory=ServeSettings)
    """How the agent is served."""
    tests: list[TestCase] = Field(default_factory=list)
    """Scripted conversations (`factory test`)."""
    fix: FixSettings = Field(default_factory=FixSettings)
    """What `factory fix` may change, and its budget."""

    @field_validator("spec", mode="before")
    @classmethod
    def _version_is_an_integer(cls, value: Any) -> Any:
        # `True == 1` in Python: `spec: true` (or `1.0`) must not pass for version 1.
        if type(value) is not int:
            raise ValueError("the format version is an integer")
        return value
