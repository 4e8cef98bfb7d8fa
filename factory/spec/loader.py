"""Load a spec file: YAML with positions -> pydantic models -> cross-reference checks.

Every problem is collected and raised once as a `SpecError`; the caller never sees a pydantic or
YAML traceback.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError

from factory.errors import SpecError, SpecIssue
from factory.spec._yaml import Path, SourceMap, YamlLimits, load_yaml
from factory.spec.models import Spec

__all__ = ["LoadedSpec", "load_spec", "load_spec_text"]


@dataclass
class LoadedSpec:
    """A valid spec with what the compiler needs beside it."""

    spec: Spec
    source: SourceMap
    path: FsPath
    text: str
    prompts: dict[str, str] = field(default_factory=dict)
    """Prompt name -> template text (files read)."""
    children: dict[str, LoadedSpec] = field(default_factory=dict)
    """Subgraph node id -> the loaded child spec."""

    @property
    def folder(self) -> FsPath:
        return self.path.parent


def load_spec(path: str | FsPath, *, limits: YamlLimits | None = None) -> LoadedSpec:
    """Read and fully validate the spec at `path`. Raises `SpecError` with every problem found."""
    return _load(FsPath(path), limits=limits, stack=())


def load_spec_text(text: str, *, file: str = "<spec>", folder: FsPath | None = None) -> LoadedSpec:
    """Validate spec text that is not (yet) a file, e.g. a patched spec in the fix loop."""
    base = folder or FsPath.cwd()
    return _from_raw(text, base / FsPath(file).name, display=file, limits=None, stack=())


def _load(path: FsPath, *, limits: YamlLimits | None, stack: tuple[FsPath, ...]) -> LoadedSpec:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError([SpecIssue(str(path), 0, 0, f"cannot read the spec: {exc.strerror or exc}",
                                   fix="check the path")]) from None
    return _from_raw(raw, path, display=str(path), limits=limits, stack=stack)


def _from_raw(raw: bytes | str, path: FsPath, *, display: str, limits: YamlLimits | None,
              stack: tuple[FsPath, ...]) -> LoadedSpec:
    from factory.spec.checks import check_spec

    data, source, issues = load_yaml(raw, display, limits=limits)
    if issues:
        raise SpecError(issues)
    if "spec" not in data:
        issues.append(SpecIssue(display, 1, 1, "the spec has no `spec:` format version",
                                fix="add `spec: 1` as the first line"))
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        issues.extend(_pydantic_issues(exc, data, source))
        raise SpecError(issues) from None
    text = raw if isinstance(raw, str) else raw.decode("utf-8-sig")
    loaded = LoadedSpec(spec=spec, source=source, path=path.resolve(), text=text)
    issues.extend(check_spec(loaded, load_child=lambda p: _load(p, limits=limits, stack=(*stack, path.resolve())),
                             stack=(*stack, path.resolve())))
    if issues:
        raise SpecError(issues)
    return loaded


# ---------------------------------------------------------------- pydantic errors -> positioned issues

_UNION_TAGS = {"str", "PromptFile", "int", "float", "bool", "list", "dict", "function-after"}


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Path, bool]:
    """Map a pydantic `loc` onto the data; drop union/discriminator tags. Returns (path, found)."""
    path: list[str | int] = []
    node = data
    for step in loc:
        if isinstance(node, dict) and step in node:
            path.append(step)
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            path.append(step)
            node = node[step]
        elif isinstance(step, str) and (step in _UNION_TAGS or "[" in step or
                                        (isinstance(node, dict) and node.get("kind") == step)):
            continue
        else:
            return tuple(path), False
    return tuple(path), True


def _node_of(path: Path) -> str | None:
    return str(path[1]) if len(path) >= 2 and path[0] == "nodes" else None


def _known_fields() -> list[str]:
    from factory.spec import models

    names: set[str] = set()
    for obj in vars(models).values():
        if isinstance(obj, type) and issubclass(obj, models._Model):
            for name, info in obj.model_fields.items():
                names.add(info.alias or name)
    return sorted(names)


def _pydantic_issues(exc: ValidationError, data: Any, source: SourceMap) -> list[SpecIssue]:
    issues: dict[Path, SpecIssue] = {}
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path, found = _data_path(loc, data)
        kind = err["type"]
        where = "/".join(str(p) for p in path) or "the top level"
        fix: str | None = None
        if kind == "extra_forbidden":
            key = str(loc[-1])
            pos = source.at(path, key=True)
            message = f"unknown key {key!r} in {'/'.join(str(p) for p in path[:-1]) or 'the top level'}"
            if key in ("api_key", "password", "token", "secret"):
                message = f"a literal secret ({key!r}) is never written in a spec"
                fix = "put the secret in an environment variable and name it: `api_key_env: OPENAI_API_KEY`"
            else:
                close = difflib.get_close_matches(key, _known_fields(), n=1)
                fix = f"did you mean {close[0]!r}?" if close else "remove the key (see `factory schema`)"
        elif kind == "missing":
            missing = str(loc[-1])
            pos = source.at(path)
            message = f"missing required key {missing!r} in {where}"
            fix = f"add `{missing}: ...`"
        elif kind == "union_tag_invalid":
            pos = source.at((*path, "kind"))
            ctx = err.get("ctx", {})
            message = f"unknown node kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
            fix = "set `kind:` to one of the listed kinds"
        elif kind == "union_tag_not_found":
            pos = source.at(path)
            message = f"node {where} has no `kind:`"
            fix = "add `kind: reply` (or another kind)"
        else:
            pos = source.at(path)
            given = err.get("input")
            message = f"{where}: {err['msg']}, got {given!r}" if found else f"{where}: {err['msg']}"
            if path and path[-1] == "name" and len(path) == 1:
                fix = "use a lowercase DNS label such as `sales-discovery`"
            elif path and path[0] == "spec":
                fix = "use `spec: 1`"
        issue = SpecIssue(source.file, pos.line, pos.column, message, node=_node_of(path), fix=fix)
        issues.setdefault(path if kind != "extra_forbidden" else (*path, "<key>"), issue)
    return list(issues.values())
