"""CEL conditions and Jinja templates inside a spec: syntax, the names they read, enum values and,
where it can be known before a run, the types their operators see.

How they see the state (the runtime's `graphs.state.state_view`): CEL reads `state.<slot>` (every
slot, `null` while unset, and `state.messages`); a template reads each slot by its bare name and
also as `state.<slot>`, plus `messages`, `prompts.<name>` and `tools.<name>`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, meta, nodes

from factory.language._context import Checker, Scope, one_of, suggest
from factory.language._yaml import Path
from graphs.expressions import CelError, check_cel, evaluate
from graphs.plan import SlotType, parse_slot_type

__all__ = ["cel", "template"]

_STRING = r"""(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
_STRINGS = re.compile(_STRING)
_STATE_REF = re.compile(r"\bstate\.([A-Za-z_]\w*)")
_LITERAL = rf"({_STRING}|-?\d+)"
_COMPARED = re.compile(rf"\bstate\.(\w+)\s*(?:==|!=)\s*{_LITERAL}|{_LITERAL}\s*(?:==|!=)\s*state\.(\w+)")
_IN_LIST = re.compile(r"\bstate\.(\w+)\s+in\s+\[([^\]]*)\]")
_IN_SLOT = re.compile(rf"{_LITERAL}\s+in\s+state\.(\w+)")
_LONE_EQUALS = re.compile(r"(?<![=!<>])=(?!=)")
_TEMPLATE_GLOBALS = frozenset({"messages", "prompts", "tools", "state"})
_JINJA = Environment(keep_trailing_newline=True)
"""Parses as the runtime's sandbox does (`graphs.templates`); the sandbox only matters when rendering."""


def _masked(text: str) -> str:
    """`text` with the inside of every string literal blanked (positions kept)."""
    return _STRINGS.sub(lambda found: found.group()[0] + " " * (len(found.group()) - 2) + found.group()[-1], text)


def _line_col(text: str, index: int) -> tuple[int, int]:
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


# ---------------------------------------------------------------------------------- CEL


def cel(c: Checker, path: Path, expression: str, *, scope: Scope | None = None,
        allowed: frozenset[str] = frozenset({"state"})) -> None:
    """Every problem of one CEL expression, each at its place in the file."""
    scope = scope or c.scope
    try:
        unknown_vars = check_cel(expression, allowed=allowed)
    except CelError as exc:
        _syntax(c, path, expression, exc)
        return
    for name in unknown_vars:
        c.add(path, f"CEL expression {expression!r} reads {name!r}; only {sorted(allowed)} exist here",
              fix=f"write `state.{name}`" if "state" in allowed else f"use one of {sorted(allowed)}")
    masked = _masked(expression)
    unknown = False
    for found in _STATE_REF.finditer(masked):
        slot = found.group(1)
        if slot not in scope.names and slot != "messages":
            unknown = True
            pos = c.src.locate(path, expression, *_line_col(expression, found.start(1)))
            close = suggest(slot, scope.names.all())
            hint = f"did you mean `state.{close}`? Otherwise add" if close else "add"
            c.add(path, f"CEL expression reads unknown slot {slot!r}{scope.what}",
                  fix=f"{hint} `{slot}` under `state:`{one_of(scope.names.all())}", line=pos.line, column=pos.column)
    _enum_values(c, path, expression, scope)
    if not unknown and not unknown_vars:
        _types(c, path, expression, scope, allowed)


def _syntax(c: Checker, path: Path, expression: str, exc: CelError) -> None:
    equals = _LONE_EQUALS.search(_masked(expression))
    if equals is not None:
        pos = c.src.locate(path, expression, *_line_col(expression, equals.start()))
        fixed = expression[: equals.start()] + "==" + expression[equals.end():]
        c.add(path, f"CEL has no `=` in {expression!r}: use `==` to compare", fix=f"write `{fixed}`",
              line=pos.line, column=pos.column)
        return
    pos = c.src.locate(path, expression, exc.line, exc.column)
    c.add(path, f"CEL syntax error in {expression!r}: {exc.message.split(chr(10))[0]}",
          fix="fix the expression (CEL: `state.slot == \"x\" && size(state.items) > 0`)",
          line=pos.line, column=pos.column)


def _literal(text: str) -> Any:
    if text[0] in "'\"":
        return None if "\\" in text else text[1:-1]
    return int(text)


def _comparisons(expression: str) -> Iterator[tuple[str, Any, int, bool]]:
    """(slot, literal value, index of the literal, whether the slot is a list) of each comparison
    of a slot with a literal: `state.s == "v"`, `"v" == state.s`, `state.s in ["a"]`, `"v" in state.l`."""
    for found in _COMPARED.finditer(expression):
        if found.group(1):
            yield found.group(1), _literal(found.group(2)), found.start(2), False
        else:
            yield found.group(4), _literal(found.group(3)), found.start(3), False
    for found in _IN_LIST.finditer(expression):
        for item in re.finditer(_LITERAL, found.group(2)):
            yield found.group(1), _literal(item.group()), found.start(2) + item.start(), False
    for found in _IN_SLOT.finditer(expression):
        yield found.group(2), _literal(found.group(1)), found.start(1), True


def _enum_values(c: Checker, path: Path, expression: str, scope: Scope) -> None:
    """`state.intent == 'cancle'` can never hold when `cancle` is not in the slot's `enum`."""
    for slot, value, index, as_item in _comparisons(expression):
        declared = scope.types.get(slot)
        if value is None or declared is None or declared.enum is None:
            continue
        if as_item != parse_slot_type(declared.type).is_list or value in declared.enum:
            continue
        if isinstance(value, int) and any(isinstance(v, float) and v == value for v in declared.enum):
            continue
        pos = c.src.locate(path, expression, *_line_col(expression, index))
        close = suggest(value, [v for v in declared.enum if isinstance(v, str)]) if isinstance(value, str) else None
        c.add(path, f"CEL expression compares slot {slot!r} with {value!r}, which is not in its enum "
                    f"{declared.enum}{scope.what}",
              fix=(f"did you mean {close!r}? The values are" if close else "use one of")
              + f" {declared.enum} (or add {value!r} to state.{slot}.enum)", line=pos.line, column=pos.column)


# What a slot of each type holds in the two sample states the types are tried with.
_SAMPLES: dict[str, tuple[Any, Any]] = {
    "string": ("", "x"), "integer": (0, 1), "number": (0.0, 1.5), "boolean": (False, True), "object": ({}, {}),
}


def _sample(kind: SlotType, enum: list[Any] | None, truthy: bool, whole_numbers: bool) -> Any:
    item = _SAMPLES[kind.item][truthy]
    if enum:
        item = enum[0]
    elif kind.item == "number" and whole_numbers:
        item = int(item)
    if kind.is_list:
        return [item] if truthy else []
    return item


def _types(c: Checker, path: Path, expression: str, scope: Scope, allowed: frozenset[str]) -> None:
    """A type error CEL would raise at run time (`No such overload`), found by evaluating the
    expression with every slot holding a value of its declared type. Reported only when it fails
    for every way the value could look (a `number` may hold a whole number), so never a guess."""
    if scope.names.unknowable or scope.names.broken & set(_STATE_REF.findall(_masked(expression))):
        return
    kinds = {name: parse_slot_type(slot.type) for name, slot in scope.types.items()}
    has_number = any(k.item == "number" for k in kinds.values())
    for truthy in (False, True):
        problems = []
        for whole_numbers in ((False, True) if has_number else (False,)):
            state: dict[str, Any] = {name: _sample(kinds[name], slot.enum, truthy, whole_numbers)
                                     for name, slot in scope.types.items()}
            state["messages"] = [{"role": "human", "content": "x"}] if truthy else []
            variables = {"state": state, "reply": "x" if truthy else ""}
            problems.append(_type_problem(expression, {k: v for k, v in variables.items() if k in allowed}))
        if all(problems) and problems[0] is not None:
            c.add(path, f"CEL type error in {expression!r}: {problems[0]}{scope.what}",
                  fix="compare and combine values of one type: see the slots' `type:` under `state:`, write "
                      "`1.0` for a number, and convert with int(), double() or string() where needed")
            return


def _type_problem(expression: str, variables: dict[str, Any]) -> str | None:
    try:
        evaluate(expression, variables)
    except CelError as exc:
        text = str(exc)
        if ": TypeError: " in text:
            return text.split(": TypeError: ", 1)[1].split(". ")[0]
        found = re.search(r"RuntimeError: Undefined variable or function: '(\w+)'", text)
        if found and found.group(1) not in variables:
            return f"no function `{found.group(1)}` takes values of these types"
    except Exception:  # noqa: BLE001 - other run-time errors (an index, a key) depend on the data
        return None
    return None


# ---------------------------------------------------------------------------------- templates


@lru_cache(maxsize=1024)
def _parse(text: str) -> nodes.Template | TemplateSyntaxError:
    """The template's syntax tree (parsed once for every check), or its syntax error."""
    try:
        return _JINJA.parse(text)
    except TemplateSyntaxError as exc:
        return exc


@lru_cache(maxsize=1024)
def _names_read(text: str) -> frozenset[str]:
    """The top-level names a template reads (those it does not set itself)."""
    tree = _parse(text)
    return frozenset() if isinstance(tree, TemplateSyntaxError) else frozenset(meta.find_undeclared_variables(tree))


def template(c: Checker, path: Path, text: str, *, file: str | None = None,
             extra: frozenset[str] = frozenset()) -> None:
    """Syntax, unknown names, and unknown `state.X` / `prompts.X` / `tools.X` of one template."""
    tree = _parse(text)
    if isinstance(tree, TemplateSyntaxError):
        _template_issue(c, path, text, f"template syntax error: {tree.message or 'template syntax error'}",
                        tree.lineno or 1, 1, file,
                        fix="fix the Jinja syntax (`{{ slot }}`, `{% if slot %}...{% endif %}`)")
        return
    used = _names_read(text)
    if c.slots.unknowable:
        return
    known = c.slots.all() | _TEMPLATE_GLOBALS | extra
    for name in sorted(used - known):
        line, column = _name_position(text, name)
        close = suggest(name, c.slots.all())
        _template_issue(c, path, text, f"the template uses {name!r}, which the state does not have", line, column,
                        file, fix=(f"did you mean `{close}`? Otherwise add" if close else "add")
                        + f" `{name}` under `state:`{one_of(c.slots.all())}")
    for base, attr, line in _attributes(tree, used):
        table = {"state": (c.slots, "slot", "state:"), "prompts": (c.prompts, "prompt", "prompts:"),
                 "tools": (c.tools, "tool", "tools:")}[base]
        names, what, section = table
        if attr in names or (base == "state" and attr == "messages"):
            continue
        line, column = _attribute_position(text, base, attr, line)
        close = suggest(attr, names.all())
        _template_issue(c, path, text, f"the template reads `{base}.{attr}`, but there is no {what} {attr!r} "
                                       "(it would render as nothing)", line, column, file,
                        fix=(f"did you mean `{base}.{close}`? Otherwise add" if close else "add")
                        + f" `{attr}` under `{section}`{one_of(names.all())}")


def _template_issue(c: Checker, path: Path, text: str, message: str, line: int, column: int, file: str | None, *,
                    fix: str) -> None:
    if file is not None:
        from pathlib import Path as FsPath

        shown = str(FsPath(c.src.file).parent / file)
        c.add(path, message, fix=fix, file=shown, line=line, column=column)
    else:
        pos = c.src.locate(path, text, line, column)
        c.add(path, message, fix=fix, line=pos.line, column=pos.column)


def _attributes(tree: nodes.Template, used: frozenset[str]) -> Iterator[tuple[str, str, int]]:
    """(`state`|`prompts`|`tools`, attribute, line) of each `state.x` / `state["x"]` the template reads."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            attr: object = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            attr = node.arg.value
        else:
            continue
        base = node.node
        if isinstance(base, nodes.Name) and base.name in ("state", "prompts", "tools") and base.name in used \
                and isinstance(attr, str):
            yield base.name, attr, node.lineno


def _attribute_position(text: str, base: str, attr: str, line: int) -> tuple[int, int]:
    lines = text.split("\n")
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    found = re.search(rf"\b{base}\s*(?:\.\s*{re.escape(attr)}\b|\[\s*['\"]{re.escape(attr)}['\"])", source)
    return line, (found.start() + 1) if found else 1


def _name_position(template_text: str, name: str) -> tuple[int, int]:
    """Line and column (1-based, in the template) where `name` is first read."""
    tree = _parse(template_text)
    lines = [] if isinstance(tree, TemplateSyntaxError) else \
        [n.lineno for n in tree.find_all(nodes.Name) if n.name == name and n.ctx == "load"]
    line = min(lines) if lines else 1
    all_lines = template_text.split("\n")
    text = all_lines[line - 1] if line - 1 < len(all_lines) else ""
    first = None
    for found in re.finditer(rf"\b{re.escape(name)}\b", text):
        before = text[: found.start()]
        if before.count("{{") + before.count("{%") > before.count("}}") + before.count("%}"):
            return line, found.start() + 1
        first = first if first is not None else found.start() + 1
    return line, first or 1
