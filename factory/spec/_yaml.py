"""A YAML loader that keeps the position of every value and refuses what a spec must not be.

PyYAML composes a node tree that carries marks; we build plain Python data from it ourselves so
that we can (1) record `path -> (line, column)` for every key and value, (2) reject duplicate keys,
(3) bound the work an alias bomb or a deep nesting can cause, and (4) avoid YAML 1.1 surprises
(`no` stays the string "no"; only true/false are booleans).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from factory.errors import SpecIssue

__all__ = ["Path", "Pos", "SourceMap", "YamlLimits", "load_yaml"]

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Pos:
    line: int
    column: int


@dataclass(frozen=True)
class YamlLimits:
    """Bounds that keep a hostile file from hanging or exhausting memory."""

    max_bytes: int = 1_000_000
    max_nodes: int = 200_000
    max_depth: int = 64


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a loaded document stands in its file."""

    file: str
    values: dict[Path, Pos] = field(default_factory=dict)
    keys: dict[Path, Pos] = field(default_factory=dict)

    def at(self, path: Path, *, key: bool = False) -> Pos:
        """The position of `path`, or of its nearest ancestor that has one."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if key and probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Pos(1, 1))


class _LoadError(Exception):
    def __init__(self, pos: Pos, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.pos, self.message, self.fix = pos, message, fix


_SCALARS = SafeConstructor()


def _pos(node: yaml.Node) -> Pos:
    return Pos(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, source: SourceMap, limits: YamlLimits) -> None:
        self.source, self.limits, self.count = source, limits, 0
        self.active: set[int] = set()

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > self.limits.max_nodes:
            raise _LoadError(
                _pos(node),
                f"the document expands to more than {self.limits.max_nodes} values (alias expansion?)",
                "remove the repeated `*alias` references; a spec needs no aliases",
            )
        if len(path) > self.limits.max_depth:
            raise _LoadError(_pos(node), f"values are nested deeper than {self.limits.max_depth} levels")
        if id(node) in self.active:
            raise _LoadError(_pos(node), "an alias refers to itself (a recursive structure)")
        self.source.values.setdefault(path, _pos(node))
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, yaml.ScalarNode)
            return _scalar(node)
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _LoadError(_pos(key_node), "a mapping key must be a plain value, not a list or mapping")
            key = _scalar(key_node)
            if key == "<<" and key_node.tag == "tag:yaml.org,2002:merge":
                raise _LoadError(_pos(key_node), "merge keys (`<<:`) are not supported in specs",
                                 "write the keys out in full")
            if not isinstance(key, str):
                key = str(key).lower() if isinstance(key, bool) else str(key)
            if key in result:
                first = self.source.keys[(*path, key)]
                raise _LoadError(
                    _pos(key_node),
                    f"duplicate key {key!r} (first defined at line {first.line})",
                    f"remove one of the two {key!r} entries",
                )
            self.source.keys[(*path, key)] = _pos(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result


def _scalar(node: yaml.ScalarNode) -> Any:
    tag, value = node.tag, node.value
    if node.style is not None and node.style != "":  # quoted or block scalars are always text
        return value
    if tag == "tag:yaml.org,2002:bool":
        lowered = value.lower()
        return lowered == "true" if lowered in ("true", "false") else value
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:int":
        return _SCALARS.construct_yaml_int(node)
    if tag == "tag:yaml.org,2002:float":
        return _SCALARS.construct_yaml_float(node)
    if tag in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:merge"):
        return value
    raise _LoadError(_pos(node), f"unsupported YAML tag {tag!r}", "remove the `!tag`; specs use plain values")


def _decode(raw: bytes | str, file: str, limits: YamlLimits) -> str:
    size = len(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else len(raw)
    if size > limits.max_bytes:
        raise _LoadError(Pos(1, 1), f"the file is {size} bytes; the limit is {limits.max_bytes}",
                         "split the prompts into files with `prompts: {name: {file: ...}}`")
    if isinstance(raw, bytes):
        if b"\x00" in raw:
            raise _LoadError(Pos(1, 1), "the file holds binary data (a NUL byte), not YAML text")
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _LoadError(Pos(1, 1), f"the file is not UTF-8 text (byte {exc.start})",
                             "save the file as UTF-8") from None
    if "\x00" in raw:
        raise _LoadError(Pos(1, 1), "the text holds a NUL character, not YAML text")
    return raw


def _yaml_problem(exc: yaml.MarkedYAMLError) -> _LoadError:
    mark = exc.problem_mark or exc.context_mark
    pos = Pos(mark.line + 1, mark.column + 1) if mark else Pos(1, 1)
    problem = exc.problem or exc.context or "invalid YAML"
    if "'\\t'" in problem or "\\t" in problem:
        return _LoadError(pos, "a tab character is used for indentation; YAML allows only spaces",
                          "replace the tab with spaces")
    detail = f"YAML syntax error: {problem}"
    if exc.context and exc.problem:
        detail += f" ({exc.context})"
    return _LoadError(pos, detail, "check the indentation and quoting on this line and the one above")


def load_yaml(raw: bytes | str, file: str, *, limits: YamlLimits | None = None) -> tuple[Any, SourceMap, list[SpecIssue]]:
    """Parse one YAML document into plain data plus a map of positions.

    Returns `(data, source_map, issues)`; when `issues` is non-empty `data` is None. Never raises
    for bad input: every problem becomes a `SpecIssue`.
    """
    limits = limits or YamlLimits()
    source = SourceMap(file)
    try:
        text = _decode(raw, file, limits)
        if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
            raise _LoadError(Pos(1, 1), "the file is empty", "start the spec with `spec: 1`")
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.composer.ComposerError as exc:
            if exc.problem and "expected a single document" in exc.problem:
                raise _LoadError(_mark(exc), "the file holds more than one YAML document (`---`)",
                                 "keep one spec per file") from None
            raise _yaml_problem(exc) from None
        except yaml.MarkedYAMLError as exc:
            raise _yaml_problem(exc) from None
        except RecursionError:
            raise _LoadError(Pos(1, 1), "values are nested too deeply to be a spec") from None
        if root is None:
            raise _LoadError(Pos(1, 1), "the file is empty", "start the spec with `spec: 1`")
        if not isinstance(root, yaml.MappingNode):
            raise _LoadError(_pos(root), "the top of a spec must be a mapping of keys (`spec: 1`, `name: ...`)",
                             "start the spec with `spec: 1`")
        data = _Builder(source, limits).build(root, ())
    except _LoadError as exc:
        return None, source, [SpecIssue(file, exc.pos.line, exc.pos.column, exc.message, fix=exc.fix)]
    except yaml.YAMLError as exc:  # unmarked reader errors (control characters)
        return None, source, [SpecIssue(file, 1, 1, f"YAML error: {exc}")]
    return data, source, []


def _mark(exc: yaml.MarkedYAMLError) -> Pos:
    mark = exc.problem_mark or exc.context_mark
    return Pos(mark.line + 1, mark.column + 1) if mark else Pos(1, 1)
