"""Field types every request schema shares: a thread id, a user message, text that is valid UTF-8.

Each validates what its JSON Schema says (so the OpenAPI document is as strict as the server), and
fails with the error code a client can act on (`bad_thread_id`, `message_too_long`) as the
pydantic error type, which `validation_error` turns into the answer's `code`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, TypeAdapter, WithJsonSchema
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema
from typing_extensions import TypeAliasType

from graphs.events import THREAD_ID_PATTERN, THREAD_ID_RULE, valid_thread_id
from graphs.server._errors import is_utf8

__all__ = ["JsonValue", "OpaqueJson", "ThreadId", "message_text"]

MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer every JSON client reads exactly; numbers a client sends stay within +-this."""
MAX_JSON_DEPTH = 32
"""How deeply a free-form JSON value may nest (the checkpointer's and LangServe's encoders stop at 254)."""


def _thread_id(value: str) -> str:
    if not valid_thread_id(value):
        raise PydanticCustomError("bad_thread_id", f"a thread id is {THREAD_ID_RULE}")
    return value


ThreadId = Annotated[
    str,
    AfterValidator(_thread_id),
    WithJsonSchema({"type": "string", "pattern": THREAD_ID_PATTERN, "description": f"A thread id: {THREAD_ID_RULE}."}),
]


def _utf8(value: str) -> str:
    if not is_utf8(value):
        raise PydanticCustomError("string_unicode", "valid Unicode text: no lone surrogates such as \\ud800")
    return value


Utf8Text = Annotated[str, AfterValidator(_utf8)]
"""A string that can be sent on as UTF-8 (JSON's `\\ud800` escape makes a lone surrogate)."""


def message_text(max_chars: int, *, description: str) -> Any:
    """A user message: 1 to `max_chars` characters (`serve.max_message_chars`) of valid text."""

    def check(value: str) -> str:
        if len(value) > max_chars:
            raise PydanticCustomError(
                "message_too_long",
                "the message has {length} characters; the limit is {limit}: send at most {limit} "
                "characters (serve.max_message_chars)",
                {"length": len(value), "limit": max_chars},
            )
        return _utf8(value)

    return Annotated[str, Field(min_length=1, description=description, json_schema_extra={"maxLength": max_chars}),
                     AfterValidator(check)]


# ---------------------------------------------------------------------------------- free-form JSON

_SafeInt = Annotated[int, Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)]
_SafeFloat = Annotated[float, Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER, allow_inf_nan=False)]
_JSON: Any = TypeAliasType(
    "JsonValue", "None | bool | _SafeInt | _SafeFloat | str | list[JsonValue] | dict[str, JsonValue]"
)
_JSON_CORE = TypeAdapter(_JSON).core_schema


def _bad_json(expected: str, where: str) -> PydanticCustomError:
    return PydanticCustomError("json_value", expected + (f" (at {where.lstrip('.')})" if where else ""))


def _check_json(value: Any, where: str = "", depth: int = 0) -> Any:
    if depth > MAX_JSON_DEPTH:
        raise _bad_json(f"JSON nested at most {MAX_JSON_DEPTH} levels deep", where)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if (isinstance(value, float) and not math.isfinite(value)) or abs(value) > MAX_SAFE_INTEGER:
            raise _bad_json("a number between -(2**53 - 1) and 2**53 - 1", where)
    elif isinstance(value, str):
        _utf8(value)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{where}[{index}]", depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json(item, f"{where}.{_utf8(key)}", depth + 1)
    else:
        raise _bad_json("a JSON value", where)
    return value


class _JsonValueType:
    """Any JSON value whose numbers stay within +-(2**53 - 1), its text valid, nested at most 32 deep;
    its schema is the recursive `JsonValue` (numbers bounded), so generated clients know the rule."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_check_json, core_schema.any_schema())

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(_JSON_CORE)


JsonValue = Annotated[Any, _JsonValueType()]
"""A free-form value a client sends (an `object` slot, a tool mock): stored and echoed safely."""

OpaqueJson = Annotated[
    Any,
    AfterValidator(_check_json),
    WithJsonSchema({"description": f"Any JSON value: numbers between -(2**53 - 1) and 2**53 - 1, nested at most "
                                   f"{MAX_JSON_DEPTH} levels deep."}),
]
"""`JsonValue` checked the same way, published without the recursive schema: for the schemas the chat
playground reads, whose reference resolver cannot follow a recursive `$ref`."""
