"""The patcher's proposal: validated, confined to `fix.editable`, applied to the spec text.

The patcher is an LLM, so its output is untrusted: it is schema-checked, every path must match an
editable JSON Pointer glob, and it is applied as data (RFC 6902), never executed. Writing the result
back keeps the file's comments, quoting and layout: a scalar `replace` rewrites only the characters
of that value; anything else goes through ruamel's round-trip writer. Either way the written text is
parsed again and must equal the patched data, or the patch is refused.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

import jsonpatch
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from factory.language._yaml import load_yaml

__all__ = ["PatchProposal", "PatchRejected", "apply_to_text", "check_editable", "parse_proposal", "patched_data",
           "pointer_editable"]


class PatchRejected(Exception):
    """A proposal that cannot be used; `reason` is fed back to the patcher."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Operation(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    op: Literal["add", "remove", "replace", "move", "copy", "test"]
    path: str = Field(pattern=r"^(/.*)?$")
    value: Any = None
    from_: str | None = Field(default=None, alias="from", pattern=r"^(/.*)?$")


class _Proposal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operations: list[_Operation] = Field(min_length=1, max_length=50)
    rationale: str = Field(min_length=1, max_length=4000)


@dataclass(frozen=True)
class PatchProposal:
    operations: list[dict[str, Any]]
    rationale: str

    def as_dict(self) -> dict[str, Any]:
        return {"operations": self.operations, "rationale": self.rationale}


def parse_proposal(arguments: Any) -> PatchProposal:
    """Validate the arguments of an `apply_spec_patch` call (a dict, or its JSON text)."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise PatchRejected(f"the tool arguments are not valid JSON: {exc}") from None
    try:
        proposal = _Proposal.model_validate(arguments)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = "/".join(str(p) for p in first["loc"])
        raise PatchRejected(f"the patch does not fit the schema at {where or 'the top'}: {first['msg']}") from None
    operations = [op.model_dump(by_alias=True, exclude_none=False, exclude={"from_"} if op.from_ is None else set())
                  for op in proposal.operations]
    for op in operations:
        if op["op"] == "remove" or (op["op"] in ("move", "copy") and "value" in op and op["value"] is None):
            op.pop("value", None)
    return PatchProposal(operations=operations, rationale=proposal.rationale)


def _segments(pointer: str) -> list[str]:
    return [s.replace("~1", "/").replace("~0", "~") for s in pointer.split("/")[1:]] if pointer else []


def pointer_editable(pointer: str, globs: list[str]) -> bool:
    """True when a glob (`*` = one segment) matches the pointer or one of its ancestors."""
    parts = _segments(pointer)
    for glob in globs:
        pattern = _segments(glob)
        if len(parts) >= len(pattern) and all(p == "*" or p == s for p, s in zip(pattern, parts, strict=False)):
            return True
    return False


def check_editable(proposal: PatchProposal, globs: list[str]) -> None:
    for op in proposal.operations:
        for key in ("path", "from"):
            pointer = op.get(key)
            if pointer is not None and not pointer_editable(pointer, globs):
                raise PatchRejected(f"{op['op']} {key} {pointer!r} is outside fix.editable {globs}")


# ---------------------------------------------------------------- writing the text back


def _node_at(root: yaml.Node, parts: list[str]) -> tuple[yaml.Node | None, yaml.Node | None]:
    """The node at a pointer and the key node that names it (None when absent)."""
    node, key_node = root, None
    for part in parts:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
            if match is None:
                return None, None
            key_node, node = match
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            key_node, node = None, node.value[int(part)]
        else:
            return None, None
    return node, key_node


def _scalar_text(value: Any, node: yaml.ScalarNode, key: yaml.Node | None, text: str) -> str:
    if isinstance(value, str) and node.style in ("|", ">") and key is not None:
        indent = " " * (key.start_mark.column + 2)
        body = "".join(f"{indent}{line}\n" if line else "\n" for line in value.rstrip("\n").split("\n"))
        chomp = "" if value.endswith("\n") else "-"
        return f"|{chomp}\n{body}"
    if isinstance(value, str) and not node.style and _PLAIN_WORD.fullmatch(value) and \
            value.lower() not in _YAML_WORDS:
        return value  # a plain word stays plain (the written text is parsed again and must read the same)
    return json.dumps(value, ensure_ascii=False)


_PLAIN_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_YAML_WORDS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"})


def _surgical(text: str, operations: list[dict[str, Any]]) -> str | None:
    """Rewrite only the characters an operation touches; None when one needs the general writer.

    Handled here: `replace` of a scalar (the value's characters), `replace` of a flow-style mapping or
    list (written as JSON, which YAML reads the same), and `remove` of an item of a block list that
    stands on lines of its own (those lines). Operations apply one after the other, as in RFC 6902.
    """
    for op in operations:
        if op["op"] not in ("replace", "remove"):
            return None
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is None:
            return None
        parts = _segments(op["path"])
        node, key = _node_at(root, parts)
        if node is None:
            return None
        if op["op"] == "remove":
            parent, _ = _node_at(root, parts[:-1])
            changed = _remove_item(text, parent, node)
        elif isinstance(node, yaml.ScalarNode) and not isinstance(op.get("value"), dict | list):
            changed = _splice(text, node, _scalar_text(op["value"], node, key, text))
        elif isinstance(node, yaml.CollectionNode) and node.flow_style and isinstance(op.get("value"), dict | list):
            changed = _splice(text, node, json.dumps(op["value"], ensure_ascii=False))
        else:
            changed = None
        if changed is None:
            return None
        text = changed
    return text


def _splice(text: str, node: yaml.Node, new: str) -> str:
    return text[:node.start_mark.index] + new + text[node.end_mark.index:]


def _remove_item(text: str, parent: yaml.Node | None, node: yaml.Node) -> str | None:
    """Remove the lines of a block list's item, when it has lines of its own (`- {...}` or a block mapping)."""
    if not isinstance(parent, yaml.SequenceNode) or parent.flow_style:
        return None
    begin = text.rfind("\n", 0, node.start_mark.index) + 1
    if text[begin:node.start_mark.index].strip() != "-":
        return None
    tail = node.end_mark.index
    line_start = text.rfind("\n", 0, tail) + 1
    if not text[line_start:tail].strip():
        end = line_start  # a block collection ends where the next line's content starts
    else:
        end = text.find("\n", tail)
        end = len(text) if end < 0 else end + 1
        rest = text[tail:end].strip()
        if rest and not rest.startswith("#"):
            return None
    return text[:begin] + text[end:]


def _round_trip(text: str, operations: list[dict[str, Any]]) -> str:
    from ruamel.yaml import YAML

    writer = YAML()
    writer.preserve_quotes = True
    writer.width = 4096
    writer.indent(mapping=2, sequence=4, offset=2)
    document = writer.load(text)
    jsonpatch.apply_patch(document, operations, in_place=True)
    out = io.StringIO()
    writer.dump(document, out)
    return out.getvalue()


def _data(text: str) -> Any:
    data, _source, issues = load_yaml(text, "<patched>")
    if issues:
        raise PatchRejected(f"the patched text is not valid YAML: {issues[0].message}")
    return data


def patched_data(text: str, proposal: PatchProposal) -> tuple[Any, Any]:
    """The spec's data before and after the patch; raises `PatchRejected` if it does not apply."""
    before = _data(text)
    try:
        return before, jsonpatch.apply_patch(before, proposal.operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError, IndexError) as exc:
        raise PatchRejected(f"the patch does not apply: {exc}") from None


def _faithful(candidate: str | None, expected: Any) -> bool:
    if candidate is None:
        return False
    try:
        return bool(_data(candidate) == expected)
    except PatchRejected:
        return False


def apply_to_text(text: str, proposal: PatchProposal) -> str:
    """The spec text with the patch applied, layout kept; raises `PatchRejected` if it does not apply."""
    _before, expected = patched_data(text, proposal)
    new_text = _surgical(text, proposal.operations)
    if not _faithful(new_text, expected):
        new_text = _round_trip(text, proposal.operations)
    if not _faithful(new_text, expected):
        raise PatchRejected("the patch could not be written back faithfully")
    assert new_text is not None
    return new_text
