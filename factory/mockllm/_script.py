"""The mock-llm script: which reply the fake model gives to which request.

A script is data (YAML, JSON or a dict), not code, so the same file drives our own tests and a
user's `factory mock-llm --script FILE`. Every model forbids unknown keys: a typo such as
`frist_token_delay_ms` must fail loudly instead of silently producing a fast reply. Regexes are
compiled while loading, so a bad pattern is reported with the file name before any request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = ["Fail", "Reply", "Rule", "Script", "ScriptError", "ToolCall", "When", "load_script"]

DEFAULT_TEXT = "mock-llm: no rule matched"


class ScriptError(ValueError):
    """A script that cannot be used; the message names the file (or source) and the problem."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


class ToolCall(_Model):
    """One tool call the fake model makes."""

    name: str = Field(min_length=1)
    """The function name, e.g. `apply_spec_patch`."""
    arguments: dict[str, Any] = Field(default_factory=dict)
    """The arguments; sent as a JSON string, as OpenAI does."""
    id: str | None = None
    """The call id; generated (`call_<request>_<index>`) when omitted."""
    raw_arguments: str | None = None
    """Send this text as the arguments instead of `arguments` (e.g. broken JSON, to test clients)."""

    def arguments_text(self) -> str:
        if self.raw_arguments is not None:
            return self.raw_arguments
        return json.dumps(self.arguments, ensure_ascii=False)


class Fail(_Model):
    """A fault to inject; exactly one of `status`, `cut_after_tokens`, `hang`."""

    status: int | None = Field(default=None, ge=400, le=599)
    """Answer with this HTTP status and an OpenAI-style error body, before any token."""
    message: str = "mock-llm: injected failure"
    """The error message in the body (with `status`)."""
    retry_after_s: float = Field(default=1.0, ge=0)
    """With status 429: the `retry-after` / `retry-after-ms` headers."""
    cut_after_tokens: int | None = Field(default=None, ge=0)
    """Send this many tokens, then close the connection without `[DONE]`."""
    hang: bool = False
    """Never answer (until the client gives up): for timeout tests."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Fail:
        chosen = [self.status is not None, self.cut_after_tokens is not None, self.hang]
        if sum(chosen) != 1:
            raise ValueError("fail needs exactly one of: status, cut_after_tokens, hang: true")
        return self


class Reply(_Model):
    """What the fake model answers, and how fast or how badly."""

    text: str | None = None
    """Assistant text, streamed in word-ish tokens that join back to exactly this text."""
    tool_calls: list[ToolCall] | None = None
    """Tool calls (after the text, if both are given); finish_reason becomes `tool_calls`."""
    tokens: int | None = Field(default=None, ge=1)
    """Repeat or truncate the text to exactly this many tokens (benchmarks)."""
    first_token_delay_ms: float = Field(default=0, ge=0)
    """Wait before the first token (time to first token)."""
    token_delay_ms: float = Field(default=0, ge=0)
    """Wait between tokens."""
    fail: Fail | None = None
    """Inject a fault instead of (or in the middle of) the reply."""

    @model_validator(mode="after")
    def _has_content(self) -> Reply:
        needs_content = self.fail is None or self.fail.cut_after_tokens is not None
        if needs_content and self.text is None and not self.tool_calls and self.tokens is None:
            raise ValueError("a reply needs `text`, `tool_calls` or `tokens` (or a `fail`)")
        return self


class When(_Model):
    """Conditions on the request; all given ones must hold. Regexes use `re.search`."""

    last_user_regex: str | None = None
    """Matches the content of the last `user` message."""
    system_regex: str | None = None
    """Matches the content of any `system` or `developer` message."""
    any_message_regex: str | None = None
    """Matches the content of any message."""
    tool_name: str | None = None
    """A tool of this name is offered in `tools` or forced by `tool_choice`."""
    model: str | None = None
    """The request's `model` equals this."""

    @field_validator("last_user_regex", "system_regex", "any_message_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex {value!r}: {exc}") from exc
        return value


class Rule(Reply):
    """A reply used for requests that match `when` (every request if absent)."""

    name: str | None = None
    """A label shown in the request log; defaults to `rules[<index>]`."""
    when: When | None = None
    """Conditions; a rule without `when` matches every request."""
    times: int | None = Field(default=None, ge=1)
    """How many requests this rule may answer; unlimited if absent."""


class Script(_Model):
    """Replies are chosen from `queue` (in order, ignoring content), then `rules`, then `default`."""

    queue: list[Reply] = Field(default_factory=list)
    """Replies served one per request, in order, whatever the request says."""
    rules: list[Rule] = Field(default_factory=list)
    """Tried in order; the first matching rule with uses left answers."""
    default: Reply = Reply(text=DEFAULT_TEXT)
    """The reply when the queue is exhausted and no rule matches."""
    models: list[str] = Field(default_factory=lambda: ["mock"])
    """Model ids listed by `GET /v1/models` (any model name is accepted in requests)."""
    context_window: int | None = Field(default=None, ge=1)
    """A small model's context, in tokens (estimated: 4 characters a token, 4 more per message). A
    request whose messages exceed it gets OpenAI's 400 `context_length_exceeded`."""

    def prompt_tokens(self, body: Mapping[str, Any]) -> int:
        """The estimate `context_window` is compared with."""
        total = 0
        for message in body.get("messages") or []:
            content = message.get("content") if isinstance(message, Mapping) else None
            if isinstance(content, list):
                content = "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
            total += 4 + -(-len(str(content or "")) // 4)
        return total


def load_script(source: Script | Mapping[str, Any] | list[Any] | Path | str | None) -> Script:
    """Build a Script from a model, a dict (a bare list means `rules`), or a YAML/JSON file path."""
    if source is None:
        return Script()
    if isinstance(source, Script):
        return source
    if isinstance(source, str | Path):
        path = Path(source)
        return _validate(_read(path), str(path))
    return _validate(source, "<script>")


def _read(path: Path) -> Any:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScriptError(f"{path}: cannot read mock-llm script: {reason}") from exc
    try:
        if path.suffix.lower() == ".json":
            return json.loads(raw)
        return yaml.safe_load(raw)
    except json.JSONDecodeError as exc:
        raise ScriptError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    except yaml.YAMLError as exc:
        raise ScriptError(f"{path}: invalid YAML: {exc}") from exc


def _validate(data: Any, origin: str) -> Script:
    if isinstance(data, list):
        data = {"rules": data}
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ScriptError(f"{origin}: a mock-llm script must be a mapping, got {type(data).__name__}")
    try:
        return Script.model_validate(data)
    except ValidationError as exc:
        problems = "\n".join(f"  - {_where(err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ScriptError(f"{origin}: invalid mock-llm script:\n{problems}") from exc


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"
