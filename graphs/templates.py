"""Sandboxed Jinja for every text that reaches the model or the user; unknown names are errors."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, meta
from jinja2 import TemplateError as JinjaError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["TemplateError", "names_used", "render"]

class _Environment(ImmutableSandboxedEnvironment):
    """Strict about names, lenient about keys.

    An undefined *name* is an error (validation already rejects names the state lacks). A missing
    *key* of a mapping (`{{ order.refund }}` when the order service sent no refund) is empty and
    false: tool results and model output vary in shape, and failing the user's turn over an
    optional field would be the run-time surprise the validation is there to prevent.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and attribute not in obj and not hasattr(obj, attribute):
            return Undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Mapping) and isinstance(argument, str) and argument not in obj:
            return Undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)


def _finalize(value: Any) -> Any:
    """An unset slot renders as nothing, not as the word "None"."""
    return "" if value is None else value


_ENV = _Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, finalize=_finalize)


class TemplateError(ValueError):
    """A template that does not parse or render; `line` is 1-based within the template text."""

    def __init__(self, message: str, *, line: int = 1) -> None:
        super().__init__(message)
        self.message, self.line = message, line


def names_used(text: str) -> set[str]:
    """Top-level names a template reads. Raises `TemplateError` on a syntax error."""
    try:
        return set(meta.find_undeclared_variables(_ENV.parse(text)))
    except TemplateSyntaxError as exc:
        raise TemplateError(exc.message or "template syntax error", line=exc.lineno or 1) from None


@lru_cache(maxsize=1024)
def _template(text: str) -> Any:
    try:
        return _ENV.from_string(text)
    except TemplateSyntaxError as exc:
        raise TemplateError(exc.message or "template syntax error", line=exc.lineno or 1) from None


def render(text: str, variables: Mapping[str, Any]) -> str:
    """Render in the sandbox; a missing name or a forbidden attribute raises `TemplateError`."""
    try:
        return str(_template(text).render(**variables))
    except (JinjaError, TypeError, ValueError) as exc:
        raise TemplateError(f"cannot render template: {exc}") from None
