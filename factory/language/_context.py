"""What every check reads and how it reports: the spec, what was resolved, positions, known names.

A check is a pure function of this context: it reads the (shaped) spec, the resolved files and
the source map, and appends `SpecIssue`s. References are checked against *known* names, which
include the entries whose shape failed (already reported), so one mistake is reported once.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from factory.errors import SpecIssue
from factory.language._resolve import ModuleInfo, Params, Resolved
from factory.language._shape import Names, Shaped
from factory.language._yaml import Path, SourceMap
from factory.language.models import History, Slot, Tool

__all__ = ["Checker", "Scope", "is_prompt_name", "one_of", "suggest", "tool_params"]

_PROMPT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*\Z")


def is_prompt_name(prompt: str) -> bool:
    """The prompt-name rule: a node's `prompt` that is one word (a letter or `_`, then letters,
    digits, `_` or `-`; no space, no other punctuation) names a `prompts:` entry; anything else is
    the template text itself."""
    return _PROMPT_NAME.match(prompt) is not None


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate `name` was most likely meant to be (case and small typos forgiven)."""
    pool = sorted(set(candidates))
    folded = {c.lower(): c for c in pool}
    if name.lower() in folded and folded[name.lower()] != name:
        return folded[name.lower()]
    close = difflib.get_close_matches(name, pool, n=1)
    return close[0] if close else None


def one_of(names: Iterable[str], *, prefix: str = " or use one of ") -> str:
    pool = sorted(set(names))
    return f"{prefix}{pool}" if pool else ""


class Scope:
    """The state an expression or template reads: its slot names and the types of those known."""

    def __init__(self, names: Names, types: dict[str, Slot], *, what: str = "") -> None:
        self.names, self.types, self.what = names, types, what


class Checker:
    """The context of every check, and the one place issues are recorded."""

    def __init__(self, shaped: Shaped, resolved: Resolved, source: SourceMap) -> None:
        self.shaped, self.spec, self.resolved, self.src = shaped, shaped.spec, resolved, source
        self.issues: list[SpecIssue] = []
        self.slots = shaped.names("state")
        self.scope = Scope(self.slots, dict(self.spec.state))
        self.models = shaped.names("models")
        self.tools = shaped.names("tools")
        self.prompts = shaped.names("prompts")
        self.servers = shaped.names("mcp_servers")
        self.nodes = shaped.names("nodes")

    def add(self, path: Path, message: str, *, fix: str | None = None, key: bool = False, node: str | None = None,
            file: str | None = None, line: int | None = None, column: int | None = None, rank: int = 0) -> None:
        """Record a problem at `path` (its key with `key=True`), or at an explicit place."""
        pos = self.src.at(path, key=key)
        if node is None and len(path) >= 2 and path[0] == "nodes":
            node = str(path[1])
        self.issues.append(SpecIssue(file or self.src.file, line or pos.line, column or pos.column, message,
                                     node=node, fix=fix, rank=rank))

    # ------------------------------------------------------------ references

    def slot_ref(self, path: Path, slot: str, *, key: bool = False) -> None:
        if slot not in self.slots:
            close = suggest(slot, self.slots.all())
            hint = f"did you mean {close!r}? Otherwise add" if close else "add"
            self.add(path, f"unknown slot {slot!r}", key=key,
                     fix=f"{hint} `{slot}:` under `state:`{one_of(self.slots.all())}")

    def tool_ref(self, path: Path, tool: str) -> None:
        if tool not in self.tools:
            close = suggest(tool, self.tools.all())
            self.add(path, f"unknown tool {tool!r}", fix=f"did you mean {close!r}?" if close else
                     f"define it under `tools:`{one_of(self.tools.all())}")

    def model_ref(self, path: Path, alias: str | None, *, what: str) -> str | None:
        """The alias a node (or setting) uses, or None when there is none or it is unknown (reported)."""
        name = alias or self.spec.default_model
        if name is None:
            if len(self.models.all()) == 1 or self.models.unknowable:
                return next(iter(self.spec.models), None)
            self.add(path, f"{what} names no model and the spec has no `default_model`",
                     fix="add `default_model: <alias>` at the top level")
            return None
        if name not in self.models:
            where = (*path, "model") if alias else ("default_model",)
            close = suggest(name, self.models.all())
            self.add(where, f"unknown model {name!r}", fix=f"did you mean {close!r}?" if close else
                     f"define it under `models:`{one_of(self.models.all())}")
            return None
        return name if name in self.spec.models else None

    def node_ref_fix(self, name: str, *, extra: Iterable[str] = ()) -> str:
        """The fix for a name that is no node: the likely node, else the list."""
        pool = [*self.nodes.all(), *extra]
        close = suggest(name, pool)
        return f"did you mean {close!r}?" if close else f"use one of {sorted(pool)}"

    def function_ref(self, path: Path, ref: str) -> None:
        """`module:function`: the module resolved (else already reported) and defines the function."""
        module, _, function = ref.partition(":")
        info = self.resolved.modules.get(module)
        if info is not None and function not in info.names:
            self.add(path, f"module {module!r} ({info.file.name}) defines no {function!r}",
                     fix=f"define `def {function}(...)` in {info.file.name}, or use one of {sorted(info.names)[:8]}")

    def history(self, path: Path, history: History) -> None:
        """Exactly one window: `last`, `max_tokens`, or `summarize_after` with a known `model`."""
        given = [key for key in ("last", "max_tokens", "summarize_after") if getattr(history, key) is not None]
        if len(given) != 1:
            self.add(path, f"`history` needs exactly one of `last`, `max_tokens`, `summarize_after` (has {given})",
                     key=True, fix="keep one, e.g. `history: {last: 20}` (the last 20 messages)")
        if history.summarize_after is not None and history.model is None:
            self.add(path, "`history: {summarize_after: N}` needs the `model` that writes the summary", key=True,
                     fix=f"add `model: <alias>`{one_of(self.models.all(), prefix=', one of ')}")
        if history.model is not None:
            if history.summarize_after is None:
                self.add((*path, "model"), "`history.model` writes summaries: it goes with `summarize_after` only",
                         key=True, fix="remove `model`, or use `{summarize_after: N, model: <alias>}`")
            elif history.model not in self.models:
                close = suggest(history.model, self.models.all())
                self.add((*path, "model"), f"unknown model {history.model!r}",
                         fix=f"did you mean {close!r}?" if close else f"define it under `models:`"
                             f"{one_of(self.models.all())}")

    # ------------------------------------------------------------ tools' parameters

    def tool_params(self, tool: Tool) -> tuple[frozenset[str] | None, tuple[str, ...]]:
        return tool_params(tool, self.resolved.modules)


def tool_params(tool: Tool, modules: dict[str, ModuleInfo]) -> tuple[frozenset[str] | None, tuple[str, ...]]:
    """The argument names a tool takes (None: any, or not known) and those it requires, as far as is
    known without running anything: a python function's signature, else `parameters.properties`."""
    if tool.python is not None:
        module, _, function = tool.python.partition(":")
        info = modules.get(module)
        params: Params | None = info.functions.get(function) if info else None
        if params is None or params.any_keyword:
            return None, ()
        return frozenset(params.names), params.required
    schema: Any = tool.parameters
    if tool.mcp is not None or not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict) \
            or schema.get("additionalProperties", False) is not False:
        return None, ()
    required = schema.get("required")
    return frozenset(schema["properties"]), tuple(r for r in required if isinstance(r, str)) \
        if isinstance(required, list) else ()
