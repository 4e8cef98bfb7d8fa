"""The params of the A2A methods this agent offers (protocol 0.3, as LangGraph's server speaks it).

Checked strictly where it matters (types, the user's role, the parts) and leniently about fields a
newer client may add (they are ignored), so every A2A client can talk to the agent and every
mistake comes back as a -32602 that names the field.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from graphs.server._fields import ThreadId

__all__ = ["PROTOCOL_VERSION", "MessageSendParams", "TaskQueryParams"]

PROTOCOL_VERSION = "0.3.0"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class TextPart(_Model):
    kind: Literal["text"]
    text: str
    metadata: dict[str, Any] | None = None


class DataPart(_Model):
    kind: Literal["data"]
    data: dict[str, Any]
    metadata: dict[str, Any] | None = None


class FilePart(_Model):
    kind: Literal["file"]
    file: dict[str, Any]
    metadata: dict[str, Any] | None = None


Part = Annotated[TextPart | DataPart | FilePart, Field(discriminator="kind")]


class Message(_Model):
    """The user's message; `contextId` is the thread, `taskId` a task waiting for input."""

    kind: Literal["message"] = "message"
    messageId: str = Field(min_length=1, max_length=256)
    role: Literal["user"]
    parts: list[Part] = Field(min_length=1, max_length=64)
    contextId: ThreadId | None = None
    taskId: str | None = Field(default=None, min_length=1, max_length=256)
    referenceTaskIds: list[str] | None = None
    metadata: dict[str, Any] | None = None
    extensions: list[str] | None = None


class MessageSendConfiguration(_Model):
    acceptedOutputModes: list[str] | None = None
    historyLength: int | None = Field(default=None, ge=0, le=10_000)
    blocking: bool | None = None
    pushNotificationConfig: dict[str, Any] | None = None


class MessageSendParams(_Model):
    """`message/send` and `message/stream`."""

    message: Message
    configuration: MessageSendConfiguration | None = None
    metadata: dict[str, Any] | None = None


class TaskQueryParams(_Model):
    """`tasks/get`."""

    id: str = Field(min_length=1, max_length=256)
    historyLength: int | None = Field(default=None, ge=0, le=10_000)
    metadata: dict[str, Any] | None = None


def message_text_of(message: Message) -> str | None:
    """The user's text: text parts joined by blank lines, data parts as their JSON; None when the
    message carries a file (not supported)."""
    pieces = []
    for part in message.parts:
        if isinstance(part, FilePart):
            return None
        pieces.append(part.text if isinstance(part, TextPart) else json.dumps(part.data, ensure_ascii=False))
    return "\n\n".join(pieces)
