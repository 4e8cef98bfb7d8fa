"""CEL, the one language for every condition, `set` value and tool argument. Never Python `eval`."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

# `cel`'s package __init__ imports its interactive CLI (prompt_toolkit, ~200 ms of start-up that
# `factory validate` cannot afford); the runtime only needs the compiled extension.
sys.modules.setdefault("cel.cli", types.ModuleType("cel.cli"))
import cel  # noqa: E402

__all__ = ["CelError", "check_cel", "evaluate", "reads_messages"]

_ERROR_AT = re.compile(r"<input>:(\d+):(\d+): (.*)")


class CelError(ValueError):
    """A CEL expression that does not parse or does not evaluate; `column` is 1-based in the text."""

    def __init__(self, message: str, *, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


@lru_cache(maxsize=4096)
def _compile(expression: str) -> Any:
    try:
        return cel.compile(expression)
    except ValueError as exc:
        found = _ERROR_AT.search(str(exc))
        if found:
            raise CelError(found.group(3), line=int(found.group(1)), column=int(found.group(2))) from None
        raise CelError(str(exc)) from None


def check_cel(expression: str, *, allowed: frozenset[str]) -> list[str]:
    """Compile `expression`; return the variables it names that are not in `allowed`.

    Raises:
        CelError: the expression does not parse.
    """
    program = _compile(expression)
    return sorted(set(program.variables()) - allowed)


def reads_messages(*expressions: str | None) -> bool:
    """True when any expression may read `messages` (the state view then has to carry them all)."""
    return any(expression is not None and "messages" in expression for expression in expressions)


def evaluate(expression: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate against plain data; a missing slot or a type error raises `CelError`."""
    program = _compile(expression)
    try:
        return program.execute(dict(variables))
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise CelError(f"cannot evaluate {expression!r}: {type(exc).__name__}: {exc}") from None
