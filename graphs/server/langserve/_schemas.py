"""What the LangServe routes accept and return, typed from the plan and as strict as the server.

The graph's input is the state: messages as `{role, content}` and each slot as its spec type (or
null); the chat runnable's is `{messages, input}`. A request body wraps the input with LangServe's
`config` (only `configurable.thread_id` is used; the other `RunnableConfig` keys a `RemoteRunnable`
sends are accepted and ignored) and `kwargs` (ignored, as LangServe does).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, WithJsonSchema, create_model, model_validator
from pydantic_core import PydanticCustomError

from graphs.events import THREAD_ID_PATTERN, THREAD_ID_RULE, valid_thread_id
from graphs.plan import Plan, SlotPlan, parse_slot_type
from graphs.server._fields import MAX_SAFE_INTEGER, JsonValue, OpaqueJson, Utf8Text, message_text
from graphs.server.limits import Limits

__all__ = ["PlaygroundMessage", "RequestModels", "RunConfig", "chat_input_model", "input_model", "state_model"]

_STRICT = ConfigDict(extra="forbid", strict=True)
_THREAD_CORE = THREAD_ID_PATTERN.removeprefix("^").removesuffix("$")


def _thread_or_empty(value: str) -> str:
    if value and not valid_thread_id(value):
        raise PydanticCustomError("bad_thread_id", f"a thread id is {THREAD_ID_RULE} (or empty for a new thread)")
    return value


class Configurable(BaseModel):
    model_config = _STRICT

    thread_id: Annotated[
        str,
        AfterValidator(_thread_or_empty),
        WithJsonSchema({"type": "string", "pattern": f"^(?:{_THREAD_CORE})?$"}),
    ] = Field(default="", description="Continue this thread (a new one when empty).")


class RunConfig(BaseModel):
    """LangChain's `RunnableConfig` as a client sends it; only `configurable.thread_id` is used."""

    model_config = _STRICT

    configurable: Configurable | None = None
    tags: list[str] | None = Field(default=None, description="Accepted and ignored.")
    metadata: dict[str, Any] | None = Field(default=None, description="Accepted and ignored.")
    run_name: str | None = Field(default=None, description="Accepted and ignored.")
    recursion_limit: int | None = Field(default=None, description="Accepted and ignored.")
    max_concurrency: int | None = Field(default=None, description="Accepted and ignored.")
    run_id: str | None = Field(default=None, description="Accepted and ignored.")

    @property
    def thread_id(self) -> str | None:
        return (self.configurable.thread_id or None) if self.configurable else None


def _title(plan: Plan, suffix: str) -> str:
    return "".join(part.title() for part in re.split(r"[^A-Za-z0-9]+", plan["name"])) + suffix


def state_model(plan: Plan) -> type[BaseModel]:
    """The graph's state as a pydantic model: the output schema (messages as LangChain serializes them).

    (LangGraph's own schema for the `TypedDict` state cannot be built by pydantic on Python 3.11.)
    """
    fields: dict[str, Any] = {"messages": (list[Any], Field(default_factory=list, description="The messages."))}
    for slot, settings in plan["state"].items():
        fields[slot] = (Any, Field(default=None, description=settings["description"] or None))
    model: type[BaseModel] = create_model(_title(plan, "State"), **fields)
    return model


# Strict: JSON clients send JSON types; "5" for an integer or "yes" for a boolean is a mistake, not a value.
# Integers stay within what every JSON client reads exactly (and `turns + 1` cannot overflow CEL's int64).
_SCALARS: dict[str, Any] = {
    "string": Annotated[Utf8Text, Strict()],
    "integer": Annotated[int, Strict(), Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)],
    "number": Annotated[float, Strict(), Field(allow_inf_nan=False)],
    "boolean": Annotated[bool, Strict()],
    "object": dict[str, JsonValue],
}
Role = Literal["user", "human", "assistant", "ai", "system"]


def _slot_annotation(slot: SlotPlan) -> Any:
    """`string` -> str, `list[integer]` -> list[int], an enum -> a `Literal` of its values."""
    slot_type = parse_slot_type(slot["type"])
    base: Any = Literal[tuple(slot["enum"])] if slot["enum"] else _SCALARS[slot_type.item]
    if not slot_type.is_list:
        return base
    if slot["reducer"] == "append":
        return list[base] | base  # type: ignore[valid-type]  # the append reducer takes an item or items
    return list[base]  # type: ignore[valid-type]


def input_model(plan: Plan, limits: Limits | None = None) -> type[BaseModel]:
    """What the graph routes accept: typed messages and each slot as its spec type (or null).

    Anything else is a `422` before the graph runs, so no request can leave a thread holding a
    value its nodes cannot use (`"turns": "abc"`).
    """
    max_chars = (limits or Limits()).max_message_chars
    message = create_model(
        _title(plan, "InputMessage"),
        __config__=_STRICT,
        role=(Role, Field(description="Who speaks: user/human, assistant/ai or system.")),
        content=(message_text(max_chars, description="The text."), ...),
    )
    fields: dict[str, Any] = {
        "messages": (list[message], Field(default_factory=list, description="Messages to add."))  # type: ignore[valid-type]
    }
    for slot, settings in plan["state"].items():
        annotation = _slot_annotation(settings) | None
        fields[slot] = (annotation, Field(default=None, description=settings["description"] or None))
    model: type[BaseModel] = create_model(_title(plan, "Input"), __config__=_STRICT, **fields)
    return model


_RUN_ID = f"^[A-Za-z0-9_.:\\-]{{1,{128 - len('playground-')}}}$"


class PlaygroundMessage(BaseModel):
    """A message of the conversation the chat playground sends back; only an AI message's `runId` is read."""

    model_config = ConfigDict(extra="allow", strict=True)
    __pydantic_extra__: dict[str, OpaqueJson] = Field(init=False)  # type: ignore[assignment]

    type: str | None = None
    content: OpaqueJson = None
    runId: str | None = Field(default=None, pattern=_RUN_ID,  # noqa: N815 - the playground's name
                              description="The LangServe run that produced an AI message; names the thread.")


def chat_input_model(limits: Limits | None = None) -> type[BaseModel]:
    """What the chat playground sends: the conversation so far and the new message (non-empty, at
    most `serve.max_message_chars`, like every other chat surface)."""
    max_chars = (limits or Limits()).max_message_chars
    model: type[BaseModel] = create_model(
        "ChatInput",
        __config__=_STRICT,
        messages=(list[PlaygroundMessage],
                  Field(default_factory=list, description="The conversation so far (the playground sends it back).")),
        input=(message_text(max_chars, description="The new user message."), ...),
    )
    return model


class RequestModels:
    """The request bodies of one runnable's routes (`invoke`, `batch`, `stream`, `stream_log`,
    `stream_events`), named after it so that two runnables' schemas do not collide."""

    def __init__(self, name: str, input_type: type[BaseModel]) -> None:
        self.input_type = input_type
        body: dict[str, Any] = {
            "input": (input_type, Field(description="The input to the runnable.")),
            "config": (RunConfig, Field(default_factory=RunConfig, description="`configurable.thread_id` "
                                        "continues a thread; without it each call starts one.")),
            "kwargs": (dict[str, Any], Field(default_factory=dict, description="Accepted and ignored.")),
        }
        filters: dict[str, Any] = {key: (list[str] | None, None) for key in (
            "include_names", "include_types", "include_tags", "exclude_names", "exclude_types", "exclude_tags")}
        self.invoke = create_model(f"{name}InvokeRequest", __config__=_STRICT, **body)
        self.stream = create_model(f"{name}StreamRequest", __config__=_STRICT, **body)
        self.stream_log = create_model(f"{name}StreamLogRequest", __config__=_STRICT, **body, **filters,
                                       diff=(bool, Field(default=False, description="Send JSON patches.")))
        version: dict[str, Any] = {"version": (Literal["v2"] | None, Field(
            default=None, description="The events' schema version: v2 only."))}
        self.stream_events = create_model(f"{name}StreamEventsRequest", __config__=_STRICT, **body, **filters,
                                          **version)
        self.batch = create_model(
            f"{name}BatchRequest",
            __base__=_BatchBase,
            inputs=(list[input_type], Field(description="The inputs, run one after another per thread.")),  # type: ignore[valid-type]
            config=(RunConfig | list[RunConfig], Field(default_factory=RunConfig, description="One config for "
                                                       "all inputs, or a list with one per input.")),
            kwargs=body["kwargs"],
        )


class _BatchBase(BaseModel):
    model_config = _STRICT

    @model_validator(mode="after")
    def _one_config_per_input(self) -> Any:
        config, inputs = getattr(self, "config", None), getattr(self, "inputs", [])
        if isinstance(config, list) and len(config) != len(inputs):
            raise ValueError(f"`config` is a list of {len(config)} configs for {len(inputs)} inputs; "
                             "send one config per input, or one config for all")
        return self

