"""OpenAI chat-completions payloads: chunks, full completions, usage and error bodies.

Kept apart from the HTTP layer so the shape of what clients parse lives in one place. The tool-call
streaming shape follows what `ChatOpenAI` needs to aggregate calls: the first delta of each call
carries `index`, `id`, `type`, `function.name` and `arguments: ""`; later deltas carry `index` and
an `arguments` fragment only (RECIPES.md, "The OpenAI wire format").
"""

from __future__ import annotations

import re
from typing import Any

from ._script import Reply
from ._select import message_text

__all__ = [
    "chunk", "completion", "deltas", "error_body", "finish_reason", "reply_tokens", "split_tokens",
    "tool_call_dicts", "usage",
]

_TOKEN_RE = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    """Word-ish tokens that keep their leading whitespace, so `"".join(tokens) == text`."""
    return _TOKEN_RE.findall(text)


def reply_tokens(reply: Reply) -> list[str]:
    """The text tokens of a reply, repeated or truncated to `reply.tokens` when that is set."""
    base = split_tokens(reply.text or "")
    if reply.tokens is None:
        return base
    base = base or ["token"]
    out = []
    for i in range(reply.tokens):
        token = base[i % len(base)]
        if i >= len(base) and not token[:1].isspace():
            token = " " + token  # keep repeated words apart
        out.append(token)
    return out


def _call_id(reply_call_id: str | None, request_no: int, index: int) -> str:
    return reply_call_id or f"call_{request_no}_{index}"


def tool_call_dicts(reply: Reply, request_no: int) -> list[dict[str, Any]]:
    """The `message.tool_calls` of a non-streamed completion."""
    return [
        {
            "id": _call_id(call.id, request_no, index),
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments_text()},
        }
        for index, call in enumerate(reply.tool_calls or [])
    ]


def deltas(reply: Reply, request_no: int) -> list[dict[str, Any]]:
    """Every `choices[0].delta` of a streamed reply, one per token; the first names the role."""
    out: list[dict[str, Any]] = [{"content": token} for token in reply_tokens(reply)]
    for index, call in enumerate(reply.tool_calls or []):
        header = {
            "index": index,
            "id": _call_id(call.id, request_no, index),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        out.append({"tool_calls": [header]})
        for fragment in split_tokens(call.arguments_text()):
            out.append({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
    if not out:
        out.append({"content": ""})
    out[0] = {"role": "assistant", **out[0]}
    return out


def finish_reason(reply: Reply) -> str:
    """`tool_calls` when the reply calls tools (clients run them), else `stop`."""
    return "tool_calls" if reply.tool_calls else "stop"


def usage(body: dict[str, Any], completion_tokens: int) -> dict[str, int]:
    """A rough but stable count: prompt tokens are the words of every message."""
    prompt = sum(len(split_tokens(message_text(m))) for m in body.get("messages") or [])
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens}


def chunk(cid: str, model: str, created: int, delta: dict[str, Any] | None,
          finish: str | None = None, with_usage_field: bool = False) -> dict[str, Any]:
    """One `chat.completion.chunk`; `delta=None` makes the usage-only chunk (empty `choices`)."""
    out: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                           "system_fingerprint": "mock-llm"}
    out["choices"] = [] if delta is None else [
        {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    ]
    if with_usage_field:
        out["usage"] = None
    return out


def completion(cid: str, model: str, created: int, reply: Reply, request_no: int,
               body: dict[str, Any]) -> dict[str, Any]:
    """A whole non-streamed `chat.completion`."""
    tokens = reply_tokens(reply)
    calls = tool_call_dicts(reply, request_no)
    content = "".join(tokens) if tokens or not calls else None
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": cid, "object": "chat.completion", "created": created, "model": model,
        "system_fingerprint": "mock-llm",
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason(reply)}
        ],
        "usage": usage(body, len(deltas(reply, request_no))),
    }


_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 429: "rate_limit_error"}


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """An OpenAI-style error body, which the SDK turns into its typed exceptions."""
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}
