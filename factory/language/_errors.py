"""Pydantic validation errors -> positioned `SpecIssue`s a user can act on.

Pydantic reports a `loc` through the model tree, including union members (`str`, `PromptFile`)
and discriminator tags (`reply`); we map it back onto the YAML data to find the line and column,
drop the errors of union members the value plainly was not meant to be, and phrase each problem as
`where: what (given value)` with a fix.
"""

from __future__ import annotations

import difflib
import json
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import ValidationError

from factory.errors import SpecIssue
from factory.language._yaml import Path, SourceMap

__all__ = ["pydantic_issues"]

_SECRET_KEYS = frozenset({"api_key", "apikey", "password", "token", "secret", "api_token", "access_token"})

_TYPE_FIXES = {
    "string_type": "write text (quote it if it looks like a number or `true`)",
    "int_type": "write a whole number, e.g. `3`",
    "int_parsing": "write a whole number, e.g. `3`",
    "int_from_float": "write a whole number, e.g. `3`",
    "float_type": "write a number, e.g. `0.5`",
    "float_parsing": "write a number, e.g. `0.5`",
    "bool_type": "write `true` or `false`",
    "bool_parsing": "write `true` or `false`",
    "dict_type": "write a mapping (`key: value` lines, or `{key: value}`)",
    "model_type": "write a mapping (`key: value` lines, or `{key: value}`)",
    "model_attributes_type": "write a mapping (`key: value` lines, or `{key: value}`)",
    "list_type": "write a list (`- item` lines, or `[a, b]`)",
    "too_short": "add entries (see `factory schema`)",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than": "use a smaller value",
    "less_than_equal": "use a smaller value",
}

_PATTERN_FIXES = {
    "name": "use a lowercase DNS label such as `sales-discovery` (a-z, 0-9, `-`, at most 63 characters)",
    "type": "use `string`, `integer`, `number`, `boolean`, `object` or `list[T]`",
    "python": "write `module:function`, e.g. `my_tools:lookup`",
    "function": "write `module:function`, e.g. `my_nodes:route`",
    "path": "start it with `/`, e.g. `/sales`",
    "mcp": "write `server/tool`, e.g. `github/create_issue` (a server of `mcp_servers:`)",
}


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Path, str | None, bool]:
    """Map a pydantic `loc` onto the data. Returns (path, union member skipped, fully found)."""
    path: list[str | int] = []
    node, member = data, None
    for step in loc:
        at_node = len(path) == 2 and path[0] == "nodes" and isinstance(node, dict)
        at_prompt = len(path) == 2 and path[0] == "prompts"
        at_holdout = path == ["fix", "holdout"]
        tagged = (at_node and step == node.get("kind")) or (at_prompt and step in ("str", "PromptFile")) or (
            at_holdout and step in ("list[str]", "HoldoutShare"))
        if member is None and tagged:
            member = str(step)
        elif (isinstance(node, dict) and step in node) or (
                isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)):
            path.append(step)
            node = node[step]
        else:
            return tuple(path), member, False
    return tuple(path), member, True


def _model_at(path: Path, data: Any) -> Any:
    """The pydantic model that validates the mapping at `path` of `data` (None when unsure).

    Follows the field annotations from `Spec` down: `dict[str, X]` and `list[X]` consume one step,
    `X | None` and `Annotated[...]` unwrap, a union of models picks the member the value was
    written as (its `kind:` for nodes, a mapping for `str | PromptFile`).
    """
    from pydantic import BaseModel

    from factory.language.models import Spec

    tp: Any = Spec
    steps = list(path)
    while True:
        tp = _unwrap(tp, data)
        if tp is None:
            return None
        if not steps:
            return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None
        step = steps.pop(0)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = {info.alias or name: info for name, info in tp.model_fields.items()}
            if step not in fields:
                return None
            tp = fields[step].annotation
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        else:
            return None
        try:
            data = data[step]
        except (KeyError, IndexError, TypeError):
            data = None


def _unwrap(tp: Any, data: Any) -> Any:
    from pydantic import BaseModel

    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
            if len(members) == 1:
                tp = members[0]
            elif len(models) == 1 and isinstance(data, dict):
                tp = models[0]
            elif models and isinstance(data, dict):
                kind = data.get("kind")
                tagged = [mdl for mdl in models if "kind" in mdl.model_fields
                          and kind in get_args(mdl.model_fields["kind"].annotation)]
                return tagged[0] if len(tagged) == 1 else None
            else:
                return None
        else:
            return tp


def _allowed_keys(path: Path, data: Any) -> list[str] | None:
    """The keys the model at `path` accepts, or None when the location is not a known model."""
    model = _model_at(path, data)
    if model is None:
        return None
    return [info.alias or name for name, info in model.model_fields.items()]


def _unknown_key_fix(key: str, allowed: list[str] | None) -> str:
    if allowed is None:
        return "remove the key (see `factory schema` for the keys allowed here)"
    candidates = [k for k in allowed if k != key and not k.startswith("$")]
    close = difflib.get_close_matches(key, candidates, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"remove the key; the keys allowed here are: {', '.join(candidates)}"


def _where(path: Path) -> str:
    return "/".join(str(p) for p in path) or "the top level"


def _value_at(data: Any, path: Path) -> Any:
    for step in path:
        data = data[step]
    return data


def _cut_by_comma(path: Path, data: Any, source: SourceMap) -> str | None:
    """`{description: Reservation date, YYYY-MM-DD.}` reads `YYYY-MM-DD.` as a key without a value:
    the text the user meant, quoted (`description: "Reservation date, YYYY-MM-DD."`), or None."""
    if len(path) < 1 or not isinstance(parent := _value_at(data, path[:-1]), dict) or parent.get(path[-1]) is not None:
        return None
    pos = source.at(path, key=True)
    line = source.lines[pos.line - 1] if 0 < pos.line <= len(source.lines) else ""
    if not line[: pos.column - 1].rstrip().endswith(","):
        return None
    keys = list(parent)
    at = keys.index(path[-1])
    start = at
    while start > 0 and parent[keys[start - 1]] is None:
        start -= 1
    end = at
    while end + 1 < len(keys) and parent[keys[end + 1]] is None:
        end += 1
    if start == 0 or not isinstance(parent[keys[start - 1]], str):
        return None
    text = ", ".join([parent[keys[start - 1]], *(str(k) for k in keys[start:end + 1])])
    return f"{keys[start - 1]}: {json.dumps(text, ensure_ascii=False)}"


def _unknown_key(key: str, path: Path, data: Any, source: SourceMap, node: str | None) -> SpecIssue:
    pos = source.at(path, key=True)
    if key.lower() in _SECRET_KEYS:
        message = f"a literal secret ({key!r}) is never written in a spec"
        fix = "put the secret in an environment variable and name it: `api_key_env: OPENAI_API_KEY`"
    else:
        message = f"unknown key {key!r} in {_where(path[:-1])}"
        fix = _unknown_key_fix(key, _allowed_keys(path[:-1], data))
        quoted = _cut_by_comma(path, data, source)
        if quoted is not None:
            message += f": a comma inside `{{...}}` ends a value, so {key!r} became a key"
            fix = f"quote the text: `{quoted}`"
    return SpecIssue(source.file, pos.line, pos.column, message, node=node, fix=fix)


def _issue(err: dict[str, Any], data: Any, source: SourceMap) -> tuple[Path, SpecIssue] | None:
    loc = tuple(err["loc"])
    path, member, found = _data_path(loc, data)
    kind = err["type"]
    if member is not None and path[:1] == ("prompts",) and len(path) == 2:
        # `str | PromptFile`: keep the branch the value was written as.
        value = _value_at(data, path)
        if isinstance(value, dict) != (member == "PromptFile"):
            return None
        if member == "str":
            pos = source.at(path)
            return path, SpecIssue(source.file, pos.line, pos.column,
                                   f"prompt {path[1]!r} must be text or `{{file: path}}` (given {_short(value)})",
                                   fix="write the prompt text, or `{file: prompts/name.md}`")
    if member is not None and path[:2] == ("fix", "holdout") and \
            isinstance(_value_at(data, path[:2]), dict) != (member == "HoldoutShare"):
        return None  # `list[str] | HoldoutShare`: keep the branch the value was written as
    node = str(path[1]) if len(path) >= 2 and path[0] == "nodes" else None
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return (*path, "<key>"), _unknown_key(str(loc[-1]), path, data, source, node)
    if kind == "missing":
        missing = str(loc[-1])
        if not path and missing == "spec":
            return ("spec",), SpecIssue(source.file, 1, 1, "the spec has no `spec:` format version",
                                        fix="add `spec: 1` as the first line")
        pos = source.at(path, key=True)
        return (*path, missing), SpecIssue(source.file, pos.line, pos.column,
                                           f"missing required key {missing!r} in {_where(path)}", node=node,
                                           fix=f"add `{missing}: ...`")
    if kind == "union_tag_invalid":
        pos = source.at((*path, "kind"))
        tag = ctx.get("tag")
        expected = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        close = difflib.get_close_matches(str(tag), expected, n=1)
        fix = f"did you mean {close[0]!r}?" if close else f"use one of: {', '.join(expected)}"
        return path, SpecIssue(source.file, pos.line, pos.column,
                               f"unknown node kind {tag!r}; expected one of: {', '.join(expected)}", node=node, fix=fix)
    if kind == "union_tag_not_found":
        pos = source.at(path, key=True)
        return path, SpecIssue(source.file, pos.line, pos.column, f"node {node!r} has no `kind:`", node=node,
                               fix="add `kind: reply` (or agent, extract, classify, tool, set, interrupt, subgraph, "
                                   "python)")
    pos = source.at(path)
    given = f" (given {_short(err.get('input'))})" if found else ""
    msg = str(err["msg"])
    if path == ("spec",) and kind in ("literal_error", "value_error"):
        written = json.dumps(_value_at(data, path), default=str)
        return path, SpecIssue(source.file, pos.line, pos.column,
                               f"unsupported spec format version (given {written}); this factory reads `spec: 1`",
                               fix="use `spec: 1` (or migrate the spec to format 1)")
    message = f"{_where(path)}: {msg[:1].lower()}{msg[1:]}{given}"
    if kind == "string_pattern_mismatch":
        fix = _PATTERN_FIXES.get(str(path[-1]) if path else "", "see `factory schema` for the allowed form")
        message = f"{_where(path)}: invalid value{given}"
    elif kind == "literal_error":
        fix = f"use one of: {ctx.get('expected')}"
    elif kind == "value_error":
        fix = "correct the value"
    else:
        fix = _TYPE_FIXES.get(kind, "see `factory schema` for what this key accepts")
    return (*path, kind), SpecIssue(source.file, pos.line, pos.column, message, node=node, fix=fix)


def pydantic_issues(exc: ValidationError, data: Any, source: SourceMap) -> list[SpecIssue]:
    """Every shape problem, once each, positioned; a typo'd key hides the 'missing' it explains."""
    issues: dict[Path, SpecIssue] = {}
    for err in exc.errors(include_url=False):
        found = _issue(dict(err), data, source)
        if found is not None:
            issues.setdefault(*found)
    explained = set()
    for path, issue in issues.items():
        if path[-1:] == ("<key>",) and issue.fix and issue.fix.startswith("did you mean "):
            explained.add((*path[:-2], issue.fix.split("'")[1]))
    return [issue for path, issue in issues.items() if path not in explained]
