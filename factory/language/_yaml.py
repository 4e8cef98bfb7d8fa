"""A YAML loader that keeps the position of every value and refuses what a spec must not be.

We read the parser's event stream (libyaml when available) and build plain Python data ourselves,
iteratively, so that we can:

1. record `path -> (line, column)` for every key and value, and enough about each scalar to map a
   position inside its text (a CEL or Jinja error) back to the file;
2. reject duplicate keys, merge keys, custom tags and more than one document;
3. bound the work a hostile file can cause: its size, its nesting depth (checked before anything
   recursive runs) and the number of values after alias expansion (a "billion laughs" stops at the
   alias that crosses the limit, without expanding it);
4. resolve plain scalars by the YAML 1.2 core schema: `no`, `on`, `1:30` and `1_000` stay text;
   only `true`/`false` are booleans.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from factory.errors import SpecIssue

__all__ = ["Path", "Pos", "SourceMap", "YamlLimits", "load_yaml"]

Path = tuple[str | int, ...]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


@dataclass(frozen=True)
class _Scalar:
    line: int  # 1-based line of the scalar's first character (or of `|`/`>` for block scalars)
    column: int  # 1-based
    style: str  # "" plain, "'" or '"' quoted, "|" literal, ">" folded


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a loaded document stands in its file."""

    file: str
    values: dict[Path, Pos] = field(default_factory=dict)
    keys: dict[Path, Pos] = field(default_factory=dict)
    scalars: dict[Path, _Scalar] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

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

    def locate(self, path: Path, text: str, line: int, column: int) -> Pos:
        """The file position of (1-based) `line`:`column` inside the string value at `path`.

        Exact for single-line values, literal blocks (`|`) and multi-line plain, quoted or folded
        (`>`) text without blank lines or escape sequences; otherwise close (the right line or
        the one after). Falls back to the value's own position.
        """
        info = self.scalars.get(tuple(path))
        if info is None:
            return self.at(path)
        value_lines = text.split("\n")
        line = max(1, min(line, len(value_lines)))
        offset = sum(len(ln) + 1 for ln in value_lines[: line - 1]) + max(column, 1) - 1
        last = Pos(info.line, info.column)
        for src_line, start, content in self._content(info):
            if offset <= len(content):
                return Pos(src_line, start + offset + 1)
            offset -= len(content) + 1
            if content.strip():
                last = Pos(src_line, start + len(content.rstrip()) + 1)
        return last  # past the end (an error at the end of the text): just after its last character

    def _content(self, info: _Scalar) -> list[tuple[int, int, str]]:
        """(1-based line, 0-based start column, text) of each source line holding the value."""
        out: list[tuple[int, int, str]] = []
        if info.style in ("|", ">"):
            indent: int | None = None
            for number in range(info.line + 1, len(self.lines) + 1):
                raw = self.lines[number - 1]
                if raw.strip():
                    lead = len(raw) - len(raw.lstrip(" "))
                    if indent is None:
                        indent = lead
                    elif lead < indent:
                        break
                out.append((number, indent or 0, raw[indent or 0:]))
            return out
        quote = 1 if info.style in ("'", '"') else 0
        first = info.column - 1 + quote
        if info.line - 1 < len(self.lines):
            out.append((info.line, first, self.lines[info.line - 1][first:]))
        for number in range(info.line + 1, len(self.lines) + 1):
            raw = self.lines[number - 1]
            lead = len(raw) - len(raw.lstrip())
            out.append((number, lead, raw[lead:]))
        return out


class _LoadError(Exception):
    def __init__(self, pos: Pos, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.pos, self.message, self.fix = pos, message, fix


def _pos(mark: Any) -> Pos:
    return Pos(mark.line + 1, mark.column + 1)


# ---------------------------------------------------------------- scalars (YAML 1.2 core schema)

_TAG = "tag:yaml.org,2002:"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+\Z")
_OCT = re.compile(r"0o[0-7]+\Z")
_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(nan|NaN|NAN)\Z")
_MAX_DIGITS = 4000
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _plain(value: str, pos: Pos) -> Any:
    if value in _NULLS:
        return None
    if value in _BOOLS:
        return _BOOLS[value]
    if len(value) > _MAX_DIGITS and (_INT.match(value) or _FLOAT.match(value)):
        raise _LoadError(pos, f"a number with {len(value)} digits is too long", "quote it to keep it as text")
    if _INT.match(value):
        return int(value)
    if _OCT.match(value):
        return int(value[2:], 8)
    if _HEX.match(value):
        return int(value[2:], 16)
    if _FLOAT.match(value):
        return float(value)
    if _INF.match(value):
        return float("-inf") if value.startswith("-") else float("inf")
    if _NAN.match(value):
        return float("nan")
    return value


def _scalar(event: Any, pos: Pos) -> Any:
    tag, value, plain = event.tag, event.value, not event.style
    if tag in (None, "!"):
        return _plain(value, pos) if plain and tag is None else value
    if tag == _TAG + "str":
        return value
    expected = {_TAG + "int": int, _TAG + "float": float, _TAG + "bool": bool, _TAG + "null": type(None)}.get(tag)
    if expected is None:
        raise _LoadError(pos, f"unsupported YAML tag {tag!r}", "remove the `!tag`; specs use plain values")
    result = _plain(value, pos)
    if expected is float and type(result) is int:
        result = float(result)
    if type(result) is not expected:
        raise _LoadError(pos, f"{value!r} is not a valid {tag.removeprefix(_TAG)}", "remove the `!!tag`")
    return result


# ---------------------------------------------------------------- building data from events


@dataclass
class _Frame:
    value: dict[str, Any] | list[Any]
    path: Path
    anchor: str | None
    count_at_start: int
    key: str | None = None


class _Builder:
    def __init__(self, source: SourceMap, limits: YamlLimits) -> None:
        self.source, self.limits = source, limits
        self.count = 0
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.root: Any = None
        self.documents = 0

    def run(self, events: Any) -> Any:
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                self.documents += 1
                if self.documents > 1:
                    raise _LoadError(_pos(event.start_mark), "the file holds more than one YAML document (`---`)",
                                     "keep one spec per file")
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                frame = self.stack.pop()
                if frame.anchor is not None:
                    self.anchors[frame.anchor] = (frame.value, self.count - frame.count_at_start + 1)
                    self.open_anchors.discard(frame.anchor)
                self._attach(frame.value)
            elif isinstance(event, yaml.NodeEvent):
                self._node(event)
        return self.root

    def _node(self, event: Any) -> None:
        pos = _pos(event.start_mark)
        top = self.stack[-1] if self.stack else None
        if isinstance(top, _Frame) and isinstance(top.value, dict) and top.key is None:
            self._key(top, event, pos)
            return
        if top is None:
            path: Path = ()
            if not isinstance(event, yaml.MappingStartEvent):
                if isinstance(event, yaml.ScalarEvent) and not event.style and event.value in _NULLS:
                    raise _LoadError(Pos(1, 1), "the file is empty", "start the spec with `spec: 1`")
                raise _LoadError(pos, "the top of a spec must be a mapping of keys (`spec: 1`, `name: ...`)",
                                 "start the spec with `spec: 1`")
        elif isinstance(top.value, list):
            path = (*top.path, len(top.value))
        else:
            assert top.key is not None
            path = (*top.path, top.key)
        if len(path) > self.limits.max_depth:
            raise _LoadError(pos, f"values are nested deeper than {self.limits.max_depth} levels",
                             "flatten the structure; a spec needs only a few levels")
        self._count(1, pos)
        self.source.values.setdefault(path, pos)
        if isinstance(event, yaml.AliasEvent):
            self._attach(self._alias(str(event.anchor), pos))
            return
        anchor = event.anchor
        if isinstance(event, yaml.ScalarEvent):
            self.source.scalars[path] = _Scalar(pos.line, pos.column, event.style or "")
            value = _scalar(event, pos)
            if anchor is not None:
                self.anchors[anchor] = (value, 1)
            self._attach(value)
            return
        if event.tag not in (None, "!", _TAG + "map", _TAG + "seq"):
            raise _LoadError(pos, f"unsupported YAML tag {event.tag!r}", "remove the `!tag`; specs use plain values")
        container: dict[str, Any] | list[Any] = {} if isinstance(event, yaml.MappingStartEvent) else []
        if anchor is not None:
            self.open_anchors.add(anchor)
        self.stack.append(_Frame(container, path, anchor, self.count))

    def _key(self, frame: _Frame, event: Any, pos: Pos) -> None:
        if not isinstance(event, yaml.ScalarEvent):
            raise _LoadError(pos, "a mapping key must be a plain value, not a list, mapping or alias",
                             "write the key as plain text")
        key = event.value
        if key == "<<" and not event.style:
            raise _LoadError(pos, "merge keys (`<<:`) are not supported in specs", "write the keys out in full")
        if key in frame.value:
            first = self.source.keys[(*frame.path, key)]
            raise _LoadError(pos, f"duplicate key {key!r} (first defined at line {first.line})",
                             f"remove one of the two {key!r} entries")
        self._count(1, pos)
        self.source.keys[(*frame.path, key)] = pos
        frame.key = key

    def _alias(self, name: str, pos: Pos) -> Any:
        if name in self.open_anchors:
            raise _LoadError(pos, f"the alias *{name} refers to the value that contains it (a recursive structure)",
                             "remove the alias")
        if name not in self.anchors:
            raise _LoadError(pos, f"unknown alias *{name}", f"define `&{name}` before using `*{name}`")
        value, size = self.anchors[name]
        self._count(size, pos)
        return copy.deepcopy(value)

    def _count(self, size: int, pos: Pos) -> None:
        self.count += size
        if self.count > self.limits.max_nodes:
            raise _LoadError(pos, f"the document expands to more than {self.limits.max_nodes} values "
                             "(alias expansion?)", "remove the repeated `*alias` references; a spec needs no aliases")

    def _attach(self, value: Any) -> None:
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        if isinstance(top.value, list):
            top.value.append(value)
        else:
            assert top.key is not None
            top.value[top.key] = value
            top.key = None


# ---------------------------------------------------------------- bytes -> text, errors


def _line_col(text: str | bytes, index: int) -> Pos:
    newline: Any = b"\n" if isinstance(text, bytes) else "\n"
    line = text.count(newline, 0, index) + 1
    start = text.rfind(newline, 0, index) + 1
    return Pos(line, index - start + 1)


def _decode(raw: bytes | str, limits: YamlLimits) -> str:
    size = len(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else len(raw)
    if size > limits.max_bytes:
        raise _LoadError(Pos(1, 1), f"the file is larger than the limit of {limits.max_bytes} bytes",
                         "split the prompts into files with `prompts: {name: {file: ...}}`")
    if isinstance(raw, bytes):
        nul = raw.find(b"\x00")
        if nul >= 0:
            raise _LoadError(_line_col(raw, nul), "the file holds binary data (a NUL byte), not YAML text",
                             "give the path of a YAML spec, saved as UTF-8 text")
        data = raw
        try:
            raw = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            pos = _line_col(data, exc.start)
            line_start = data.rfind(b"\n", 0, exc.start) + 1
            column = len(data[line_start:exc.start].decode("utf-8", "replace")) + 1
            raise _LoadError(Pos(pos.line, column),
                             f"the file is not UTF-8 text (byte {data[exc.start:exc.start + 1]!r})",
                             "save the file as UTF-8") from None
    nul = raw.find("\x00")
    if nul >= 0:
        raise _LoadError(_line_col(raw, nul), "the text holds a NUL character, not YAML text",
                         "remove the NUL character")
    bad = _NON_PRINTABLE.search(raw)
    if bad:
        raise _LoadError(_line_col(raw, bad.start()), f"the text holds a control character {bad.group()!r}",
                         "remove it (only tabs, newlines and printable characters are allowed)")
    return raw


def _yaml_problem(exc: yaml.MarkedYAMLError, lines: list[str]) -> _LoadError:
    mark = exc.problem_mark or exc.context_mark
    pos = _pos(mark) if mark else Pos(1, 1)
    text = lines[pos.line - 1] if 0 < pos.line <= len(lines) else ""
    lead = text[: len(text) - len(text.lstrip(" \t"))]
    if "\t" in lead or text[pos.column - 1: pos.column] == "\t":
        column = lead.index("\t") + 1 if "\t" in lead else pos.column
        return _LoadError(Pos(pos.line, column), "a tab character is used for indentation; YAML allows only spaces",
                          "replace the tab with spaces")
    if isinstance(exc, yaml.composer.ComposerError) and "single document" in f"{exc.context} {exc.problem}":
        return _LoadError(pos, "the file holds more than one YAML document (`---`)", "keep one spec per file")
    problem = exc.problem or exc.context or "invalid YAML"
    detail = f"YAML syntax error: {problem}"
    if exc.context and exc.problem:
        detail += f" ({exc.context})"
    return _LoadError(pos, detail, "check the indentation and quoting on this line and the one above")


def load_yaml(
    raw: bytes | str, file: str, *, limits: YamlLimits | None = None
) -> tuple[Any, SourceMap, list[SpecIssue]]:
    """Parse one YAML document into plain data plus a map of positions.

    Returns `(data, source_map, issues)`; when `issues` is non-empty `data` is None. Never raises
    for bad input: every problem becomes a `SpecIssue`.
    """
    limits = limits or YamlLimits()
    source = SourceMap(file)
    try:
        text = _decode(raw, limits)
        source.lines = text.splitlines()
        try:
            data = _Builder(source, limits).run(yaml.parse(text, Loader=_Loader))
        except yaml.MarkedYAMLError as exc:
            raise _yaml_problem(exc, source.lines) from None
        except yaml.reader.ReaderError as exc:
            char = chr(exc.character) if isinstance(exc.character, int) else exc.character
            raise _LoadError(_line_col(text, exc.position), f"the text holds a control character {char!r}",
                             "remove it (only tabs, newlines and printable characters are allowed)") from None
        except yaml.YAMLError as exc:
            raise _LoadError(Pos(1, 1), f"YAML error: {exc}") from None
        if data is None:
            raise _LoadError(Pos(1, 1), "the file is empty", "start the spec with `spec: 1`")
    except _LoadError as exc:
        return None, source, [SpecIssue(file, exc.pos.line, exc.pos.column, exc.message, fix=exc.fix)]
    return data, source, []
