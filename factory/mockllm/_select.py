"""Choosing the reply for one request: queue first, then the first matching rule, then the default.

The state (queue position, uses per rule) is shared by the server's event loop and the test thread
that calls `set_script` or `reset`, hence the lock.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from ._script import Reply, Rule, Script, When

__all__ = ["ScriptState", "message_text", "rule_matches"]


def message_text(message: Any) -> str:
    """The text of a message's `content`: a string, or the `text` of its content parts."""
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _function_name(item: Any) -> str | None:
    """The name in `{"type": "function", "function": {"name": ...}}` (or a flat `{"name": ...}`)."""
    if not isinstance(item, dict):
        return None
    fn = item.get("function")
    name = (fn if isinstance(fn, dict) else item).get("name")
    return name if isinstance(name, str) else None


def _offered_tools(body: dict[str, Any]) -> set[str]:
    """Tools offered in `tools`, plus the one forced by `tool_choice`."""
    tools = body.get("tools")
    candidates = [*(tools if isinstance(tools, list) else []), body.get("tool_choice")]
    return {name for name in map(_function_name, candidates) if name is not None}


def rule_matches(when: When | None, body: dict[str, Any]) -> bool:
    """Whether every condition given in `when` holds for this request body."""
    if when is None:
        return True
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    if when.model is not None and body.get("model") != when.model:
        return False
    if when.tool_name is not None and when.tool_name not in _offered_tools(body):
        return False
    if when.last_user_regex is not None:
        users = [m for m in messages if m.get("role") == "user"]
        if not users or not re.search(when.last_user_regex, message_text(users[-1])):
            return False
    if when.system_regex is not None:
        system = "\n".join(message_text(m) for m in messages if m.get("role") in ("system", "developer"))
        if not re.search(when.system_regex, system):
            return False
    if when.any_message_regex is not None:
        pattern = re.compile(when.any_message_regex)
        if not any(pattern.search(message_text(m)) for m in messages):
            return False
    return True


class ScriptState:
    """The live script plus how much of it has been used."""

    def __init__(self, script: Script) -> None:
        self._lock = threading.Lock()
        self._script = script
        self._queue_pos = 0
        self._uses: list[int] = [0] * len(script.rules)

    @property
    def script(self) -> Script:
        return self._script

    def replace(self, script: Script) -> None:
        """Swap the script and forget past uses (a new script starts fresh)."""
        with self._lock:
            self._script = script
            self._queue_pos = 0
            self._uses = [0] * len(script.rules)

    def reset(self) -> None:
        """Rewind the queue and the `times` counters."""
        self.replace(self._script)

    def pick(self, body: dict[str, Any]) -> tuple[Reply, str]:
        """The reply for this request and a label saying where it came from."""
        with self._lock:
            script = self._script
            if self._queue_pos < len(script.queue):
                self._queue_pos += 1
                return script.queue[self._queue_pos - 1], f"queue[{self._queue_pos - 1}]"
            for index, rule in enumerate(script.rules):
                if rule.times is not None and self._uses[index] >= rule.times:
                    continue
                if rule_matches(rule.when, body):
                    self._uses[index] += 1
                    return rule, _label(rule, index)
            return script.default, "default"


def _label(rule: Rule, index: int) -> str:
    return rule.name or f"rules[{index}]"
