"""Field types every request schema shares: a thread id, a user message, text that is valid UTF-8.

Each validates what its JSON Schema says (so the OpenAPI document is as strict as the server), and
fails with the error code a client can act on (`bad_thread_id`, `message_too_long`) as the
pydantic error type, which `validation_error` turns into the answer's `code`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from graphs.events import THREAD_ID_PATTERN, THREAD_ID_RULE, valid_thread_id
from graphs.server._errors import is_utf8

__all__ = ["ThreadId", "message_text"]

MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer every JSON client reads exactly; integer slots stay within +-this."""


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
