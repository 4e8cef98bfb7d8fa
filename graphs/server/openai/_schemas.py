"""The request and answer bodies of the OpenAI-compatible routes, as strict as the server checks them.

OpenAI clients send more than the agent uses (`temperature`, `tools`, ...): those fields are
accepted and ignored (`additionalProperties`), but the ones the server reads are typed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict

from graphs.events import ErrorCode
from graphs.server._fields import ThreadId, Utf8Text

__all__ = [
    "ChatCompletion",
    "ChatMessage",
    "CompletionRequest",
    "ContentPart",
    "ModelList",
    "OpenAIErrorBody",
    "StreamOptions",
]

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class StreamOptions(BaseModel):
    """OpenAI's `stream_options`; only `include_usage` matters here."""

    model_config = ConfigDict(extra="allow", strict=True)

    include_usage: bool = False


class ContentPart(BaseModel):
    """One part of a message's content; `text` parts are read, the others ignored."""

    model_config = ConfigDict(extra="allow", strict=True)

    type: str
    text: Utf8Text | None = None


_TEXT_PART: JsonDict = {
    "type": "object",
    "properties": {"type": {"const": "text"}, "text": {"type": "string", "minLength": 1}},
    "required": ["type", "text"],
}
_USER_HAS_TEXT: JsonDict = {
    "if": {"properties": {"role": {"const": "user"}}, "required": ["role"]},
    "then": {"required": ["content"], "properties": {"content": {"anyOf": [
        {"type": "string", "minLength": 1}, {"type": "array", "contains": _TEXT_PART}]}}},
}


class ChatMessage(BaseModel):
    """A message; a `user` message must have text (a non-empty string, or a non-empty `text` part)."""

    model_config = ConfigDict(extra="allow", strict=True, json_schema_extra=_USER_HAS_TEXT)

    role: Role
    content: Utf8Text | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text or "" for part in self.content or [] if part.type == "text")

    @model_validator(mode="after")
    def _user_has_text(self) -> ChatMessage:
        if self.role == "user" and not self.text():
            raise ValueError("a user message needs text: a non-empty `content` string, or a `text` part with text")
        return self


class CompletionRequest(BaseModel):
    """The part of OpenAI's request the agent uses; other fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(description="The spec's name (see `GET /v1/models`).")
    messages: list[ChatMessage] = Field(
        min_length=1,
        description="At least one `user` message; the last one is the turn's message (at most "
                    "`serve.max_message_chars`, else `message_too_long`).",
        json_schema_extra={"contains": {"type": "object", "properties": {"role": {"const": "user"}},
                                        "required": ["role"]}},
    )
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: ThreadId | None = Field(default=None, description="The thread id when no X-Thread-Id header is sent.")

    @field_validator("messages")
    @classmethod
    def _has_a_user_message(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if not any(message.role == "user" for message in messages):
            raise ValueError("the request needs a `user` message: the turn's message is the last one")
        return messages


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AnswerMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class CompletionChoice(BaseModel):
    index: int
    message: AnswerMessage
    finish_reason: Literal["stop"]
    logprobs: None


class ChatCompletion(BaseModel):
    """A whole answer (`stream: false`)."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: CompletionUsage
    thread_id: str


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error, permission_error, conflict, "
                                  "rate_limit_error or server_error.")
    code: ErrorCode
    param: str | None = Field(description="The offending field, if any.")


class OpenAIErrorBody(BaseModel):
    """Every error under `/v1/`, in OpenAI's shape (so OpenAI SDKs show its message)."""

    model_config = ConfigDict(title="OpenAIError")

    error: OpenAIErrorDetail

