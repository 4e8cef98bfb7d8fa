"""Which messages a model call sees: a window over the thread's history (`history:` in the spec).

- `{last: N}`: the last N messages.
- `{max_tokens: N}`: the most recent messages that fit in N tokens (counted with `tiktoken` for
  OpenAI models when its encoding is available offline, else estimated at 4 characters a token).
- `{summarize_after: N, model: alias}`: once more than N messages are not yet summarised, the older
  ones are folded (by `model`) into a running summary kept in the state (`SUMMARY_CHANNEL`); the
  model then sees the summary and the recent messages.

A window never splits a tool call from its result: a cut that would leave tool results without the
assistant message that asked for them moves forward past them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypedDict

from langchain_core.messages import BaseMessage, SystemMessage, ToolMessage

from graphs.plan import HistoryPlan, NodePlan, Plan

__all__ = ["SUMMARY_CHANNEL", "Summary", "as_summary", "count_tokens", "history_for", "needs_summary",
           "summarizer_aliases", "summary_request", "window"]

log = logging.getLogger("graphs.history")

SUMMARY_CHANNEL = "history_summary"
"""The state channel that holds the running summary (present only when a spec summarises)."""


class Summary(TypedDict):
    text: str
    covered: int
    """How many leading messages of the thread the summary stands for."""


def history_for(plan: Plan, node: NodePlan) -> HistoryPlan | None:
    """The node's own `history`, else its model's, else None (the whole history)."""
    if node["kind"] == "reply" or node["kind"] == "agent" or node["kind"] == "extract" \
            or node["kind"] == "classify":
        own = node.get("history")
        return own if own else plan["models"][node["model"]].get("history") or None
    return None


def summarizer_aliases(plan: Plan) -> set[str]:
    """The model aliases that write summaries for this plan's nodes."""
    aliases = set()
    for node in plan["nodes"].values():
        history = history_for(plan, node)
        if history and "summarize_after" in history and history.get("model"):
            aliases.add(history["model"])
    return aliases


def _safe_start(messages: Sequence[BaseMessage], start: int) -> int:
    """Move a cut forward past tool results whose assistant message falls before it."""
    while start < len(messages) and isinstance(messages[start], ToolMessage):
        start += 1
    return start


@cache
def _tiktoken_encoder(model: str) -> Callable[[str], list[int]] | None:
    try:
        import tiktoken

        return tiktoken.encoding_for_model(model).encode  # type: ignore[no-any-return]
    except Exception:  # unknown model, or the encoding cannot be fetched offline
        log.info("no tiktoken encoding for %r here; estimating tokens at 4 characters each", model)
        return None


def count_tokens(message: BaseMessage, *, model: str | None) -> int:
    """Tokens of one message, with the 4 tokens of framing chat formats add per message."""
    encode = _tiktoken_encoder(model) if model else None
    text = message.text
    return 4 + (len(encode(text)) if encode else math.ceil(len(text) / 4))


def window(messages: Sequence[BaseMessage], history: HistoryPlan | None, *, model: str | None = None,
           summary: Summary | None = None) -> list[BaseMessage]:
    """The messages a model call sees under `history` (all of them when it is None)."""
    if not history:
        return list(messages)
    if "last" in history:
        return list(messages[_safe_start(messages, max(0, len(messages) - history["last"])):])
    if "max_tokens" in history:
        budget, start = history["max_tokens"], len(messages)
        while start > 0:
            cost = count_tokens(messages[start - 1], model=model)
            if cost > budget:
                break
            budget -= cost
            start -= 1
        return list(messages[_safe_start(messages, start):])
    covered = summary["covered"] if summary else 0
    recent = list(messages[_safe_start(messages, covered):])
    if summary and summary["text"]:
        return [SystemMessage(f"Summary of the earlier conversation:\n{summary['text']}"), *recent]
    return recent


def needs_summary(messages: Sequence[BaseMessage], history: HistoryPlan | None,
                  summary: Summary | None) -> int | None:
    """With `summarize_after: N`: the new `covered` count when more than N messages are unsummarised
    (all but the most recent N // 2 get folded in), else None."""
    if not history or "summarize_after" not in history:
        return None
    covered = summary["covered"] if summary else 0
    if len(messages) - covered <= history["summarize_after"]:
        return None
    keep = max(1, history["summarize_after"] // 2)
    upto = _safe_start(messages, len(messages) - keep)
    return upto if upto > covered else None


def summary_request(messages: Sequence[BaseMessage], summary: Summary | None, upto: int) -> list[BaseMessage]:
    """What the summarising model is asked: the summary so far and the messages to fold into it."""
    covered = summary["covered"] if summary else 0
    lines = [f"{m.type}: {m.text}" for m in messages[covered:upto] if m.text]
    previous = f"The summary so far:\n{summary['text']}\n\n" if summary and summary["text"] else ""
    return [
        SystemMessage("You keep a running summary of a conversation between a user and an assistant. "
                      "Write a short factual summary that keeps every name, number, decision and open "
                      "question. Answer with the summary only."),
        SystemMessage(f"{previous}Fold in these messages:\n" + "\n".join(lines)),
    ]


def as_summary(value: Any) -> Summary | None:
    """The summary kept in the state, if any (tolerates a state written before summaries existed)."""
    if isinstance(value, dict) and isinstance(value.get("text"), str) and isinstance(value.get("covered"), int):
        return Summary(text=value["text"], covered=value["covered"])
    return None
