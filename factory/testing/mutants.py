"""Mutants of a spec: small, plausible faults that a good conversation suite should notice.

Each mutant is one RFC 6902 JSON Patch on the spec's data, written back into the text with the fix
loop's layout-keeping writer (`factory.fix.patch.apply_to_text`), so its diff is the one line it
changes. The operators:

| operator | the fault |
| --- | --- |
| `negate_condition` | an edge's `when` becomes `!(when)` |
| `change_condition_constant` | a literal in a `when` changes (a string to a sibling edge's, a number + 1...) |
| `retarget_edge` | an edge leads elsewhere (a sibling edge's target, `end`, another node) |
| `remove_edge` | an edge is removed |
| `change_set_value` | a literal in a `set` node's value changes (or the value becomes `null`) |
| `change_tool_result` | a `returns` tool, or a conversation's mock, gives another result |
| `drop_prompt_sentence` | a sentence disappears from a prompt (written in the spec) of a node that talks |

Many mutants are not valid specs (a removed default edge leaves a node without a way out); they are
counted and skipped by the runner (`factory.testing.mutation`), never run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from factory.language._context import is_prompt_name

if TYPE_CHECKING:
    from factory.language.loader import LoadedSpec

__all__ = ["OPERATORS", "Mutant", "Operator", "generate_mutants"]

Operator = Literal["negate_condition", "change_condition_constant", "retarget_edge", "remove_edge",
                   "change_set_value", "change_tool_result", "drop_prompt_sentence"]
OPERATORS: tuple[Operator, ...] = ("negate_condition", "change_condition_constant", "retarget_edge", "remove_edge",
                                   "change_set_value", "change_tool_result", "drop_prompt_sentence")

RETARGETS_PER_EDGE = 3
LITERALS_PER_EXPRESSION = 3
_LITERAL = re.compile(r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'"""
                      r"""|(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])|\b(?:true|false)\b""")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_TALKS = ("reply", "agent")


@dataclass(frozen=True)
class Mutant:
    """One fault: where it is (a path in the spec document), what it does, and the patch that makes it."""

    operator: Operator
    description: str
    path: tuple[str | int, ...]
    operations: list[dict[str, Any]] = field(hash=False)
    needs_model: bool = False
    """The scripted model ignores prompts: only a real model can notice this fault."""


def _literal(text: str) -> Any:
    if text[0] in "\"'":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    return float(text) if "." in text else int(text)


def _write(value: Any, quote: str) -> str:
    if isinstance(value, str):
        return quote + value + quote if quote not in value else json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _other_value(value: Any, pool: list[Any]) -> Any:
    """A plausible other value: the next different one of the same type in `pool`, else a nudge."""
    same = [v for v in dict.fromkeys(pool) if type(v) is type(value) and v != value]
    if same:
        after = [v for v in pool[pool.index(value) + 1:] if v in same] if value in pool else []
        return (after or same)[0]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    return f"{value}_mutant"


def _literal_variants(expression: str, pool: list[Any]) -> Iterator[tuple[str, str]]:
    """(new expression, what changed) for each of the first few literals of a CEL expression."""
    for found in list(_LITERAL.finditer(expression))[:LITERALS_PER_EXPRESSION]:
        old = _literal(found.group())
        new = _other_value(old, pool)
        quote = found.group()[0] if isinstance(old, str) else '"'
        text = _write(new, quote)
        yield expression[:found.start()] + text + expression[found.end():], f"{found.group()} -> {text}"


def _pool(expressions: list[str], enums: list[list[Any]]) -> list[Any]:
    values = [_literal(m.group()) for e in expressions for m in _LITERAL.finditer(e)]
    return values + [v for enum in enums for v in enum]


def _edges(data: dict[str, Any], nodes: list[str]) -> Iterator[Mutant]:
    edges = [e for e in data.get("edges") or [] if isinstance(e, dict)]
    enums = [s["enum"] for s in (data.get("state") or {}).values() if isinstance(s, dict) and s.get("enum")]
    for k, edge in enumerate(edges):
        source, target, when = edge.get("from"), edge.get("to"), edge.get("when")
        siblings = [e for e in edges if e.get("from") == source]
        arrow = f"{source} -> {target}" + (f" (when {when})" if isinstance(when, str) else "")
        if isinstance(when, str):
            yield Mutant("negate_condition", f"{source} -> {target}: when !({when})", ("edges", k, "when"),
                         [{"op": "replace", "path": f"/edges/{k}/when", "value": f"!({when})"}])
            pool = _pool([e["when"] for e in siblings if isinstance(e.get("when"), str)], enums)
            for new, change in _literal_variants(when, pool):
                yield Mutant("change_condition_constant", f"{source} -> {target}: when {new} ({change})",
                             ("edges", k, "when"),
                             [{"op": "replace", "path": f"/edges/{k}/when", "value": new}])
        targets = [e.get("to") for e in siblings] + ["end"] + [n for n in nodes if n != source]
        others = [t for t in dict.fromkeys(targets) if isinstance(t, str) and t != target]
        for other in others[:RETARGETS_PER_EDGE]:
            yield Mutant("retarget_edge", f"{arrow} now leads to {other}", ("edges", k, "to"),
                         [{"op": "replace", "path": f"/edges/{k}/to", "value": other}])
        yield Mutant("remove_edge", f"{arrow} removed", ("edges", k),
                     [{"op": "remove", "path": f"/edges/{k}"}])


def _set_values(data: dict[str, Any]) -> Iterator[Mutant]:
    for node_id, node in (data.get("nodes") or {}).items():
        if not isinstance(node, dict) or node.get("kind") != "set" or not isinstance(node.get("values"), dict):
            continue
        for slot, expression in node["values"].items():
            if not isinstance(expression, str):
                continue
            path = ("nodes", node_id, "values", slot)
            pointer = "/" + "/".join(map(str, path))
            variants = list(_literal_variants(expression, _pool([expression], [])))
            if not variants and expression.strip() != "null":
                variants = [("null", f"{expression} -> null")]
            for new, change in variants:
                yield Mutant("change_set_value", f"set {node_id}.{slot}: {change}", path,
                             [{"op": "replace", "path": pointer, "value": new}])


def _changed(value: Any) -> Any:
    """The same result with one thing changed: its first scalar, an item fewer, a flipped boolean."""
    if isinstance(value, dict):
        for key, item in value.items():
            return {**value, key: _changed(item)}
        return {"mutated": True}
    if isinstance(value, list):
        return value[:-1] if value else ["mutated"]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return f"{value} (mutated)"
    return "mutated"


def _tool_results(data: dict[str, Any]) -> Iterator[Mutant]:
    for name, tool in (data.get("tools") or {}).items():
        if isinstance(tool, dict) and "returns" in tool:
            yield Mutant("change_tool_result", f"tool {name} returns another result", ("tools", name, "returns"),
                         [{"op": "replace", "path": f"/tools/{name}/returns", "value": _changed(tool["returns"])}])
    for i, case in enumerate(data.get("tests") or []):
        mocks = case.get("mocks") if isinstance(case, dict) else None
        for name, result in (mocks or {}).items():
            yield Mutant("change_tool_result", f"conversation {case.get('name')!r}: the mock of {name} returns "
                         "another result", ("tests", i, "mocks", name),
                         [{"op": "replace", "path": f"/tests/{i}/mocks/{_escape(name)}", "value": _changed(result)}])


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _sentences(text: str) -> list[str]:
    """The prose sentences of a prompt (a line that is only a template, `{{ prompts.persona }}`, is none)."""
    pieces = [p for line in text.split("\n") for p in _SENTENCE_END.split(line)]
    return [p.strip() for p in pieces if re.search(r"[A-Za-z]{2}", re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", p))]


def _prompts(data: dict[str, Any]) -> Iterator[Mutant]:
    prompts = data.get("prompts") or {}
    places: dict[tuple[str | int, ...], str] = {}
    for node_id, node in (data.get("nodes") or {}).items():
        if not isinstance(node, dict) or node.get("kind") not in _TALKS or not isinstance(node.get("prompt"), str):
            continue
        prompt = node["prompt"]
        if not is_prompt_name(prompt):
            places[("nodes", node_id, "prompt")] = prompt
        elif isinstance(prompts.get(prompt), str):
            places[("prompts", prompt)] = prompts[prompt]
    for path, text in places.items():
        sentences = _sentences(text)
        if len(sentences) < 2 and not any("{{" in line for line in text.split("\n")):
            continue  # dropping the only sentence empties the prompt: not a subtle fault
        for sentence in sentences:
            new = text.replace(sentence, "", 1)
            new = "\n".join(line.rstrip() for line in new.split("\n") if line.strip()) + ("\n" if text.endswith(
                "\n") else "")
            short = sentence if len(sentence) <= 60 else sentence[:57] + "..."
            yield Mutant("drop_prompt_sentence", f"{'/'.join(map(str, path))}: drops {short!r}", path,
                         [{"op": "replace", "path": "/" + "/".join(_escape(str(p)) for p in path), "value": new}],
                         needs_model=True)


def generate_mutants(loaded: LoadedSpec, data: dict[str, Any]) -> list[Mutant]:
    """Every mutant of a spec's data, in the order of the operators' table, each once."""
    nodes = list(loaded.spec.nodes)
    found = [*_edges(data, nodes), *_set_values(data), *_tool_results(data), *_prompts(data)]
    unique: dict[str, Mutant] = {}
    for mutant in found:
        unique.setdefault(json.dumps(mutant.operations, sort_keys=True, default=str), mutant)
    return sorted(unique.values(), key=lambda m: OPERATORS.index(m.operator))
