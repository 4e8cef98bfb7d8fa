"""`fix.holdout`: conversations the patcher never sees, so that a repair is judged on examples it was not fitted to.

The held-out conversations are named in the spec (names or tags), or drawn by a seeded split. The
patcher gets the spec's text with those conversations blanked out (their lines become empty, so
every line number it reads still points at the same line of the file), only the failures of the
other conversations, and rejection reasons that never name a held-out conversation.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import yaml

from factory.errors import UserError
from factory.language.models import HoldoutShare

if TYPE_CHECKING:
    from factory.language.models import Spec

__all__ = ["HIDDEN", "Holdout", "held_out", "redact"]

HIDDEN = "# a held-out conversation (hidden from the patcher)"
Holdout = list[str] | HoldoutShare
"""What `fix.holdout` takes: conversation names or tags, or a seeded share."""


def held_out(spec: Spec, holdout: Holdout | None = None) -> list[str]:
    """The names of the held-out conversations, in the spec's order: `holdout` (a caller's override, e.g. a
    command-line flag), else `fix.holdout`; none without either.

    A share holds out `round(share * n)` conversations, at least one and never all, drawn with
    `random.Random(seed)`: the same spec and seed always hold out the same conversations.

    Raises:
        UserError: an override names no conversation and no tag, or holds out every conversation (the
            spec's own `fix.holdout` was checked when it was loaded).
    """
    names = [case.name for case in spec.tests]
    if holdout is not None:
        _check_override(spec, holdout)
    holdout = holdout if holdout is not None else spec.fix.holdout
    if holdout is None:
        return []
    if isinstance(holdout, HoldoutShare):
        if len(names) < 2:
            return []
        count = min(len(names) - 1, max(1, round(holdout.share * len(names))))
        chosen = set(random.Random(holdout.seed).sample(names, count))
        return [name for name in names if name in chosen]
    wanted = set(holdout)
    return [case.name for case in spec.tests if case.name in wanted or wanted & set(case.tags)]


def _check_override(spec: Spec, holdout: Holdout) -> None:
    if isinstance(holdout, HoldoutShare):
        return
    known = {case.name for case in spec.tests} | {tag for case in spec.tests for tag in case.tags}
    unknown = [entry for entry in holdout if entry not in known]
    if unknown:
        raise UserError(f"holdout names no conversation and no tag: {unknown}",
                        hint=f"use conversation names or tags of the spec: {sorted(known)}")
    held = [case for case in spec.tests if case.name in holdout or set(case.tags) & set(holdout)]
    if spec.tests and len(held) == len(spec.tests):
        raise UserError("the holdout holds out every conversation: the patcher would see none",
                        hint="hold out fewer conversations")


def _value(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    """(key node, value node) of `key` in a mapping node."""
    if not isinstance(node, yaml.MappingNode):
        return None
    return next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def _end_line(lines: list[str], node: yaml.Node) -> int:
    """The first line after `node` (a block collection ends where the next line's content starts)."""
    mark = node.end_mark
    return mark.line if not lines[mark.line][:mark.column].strip() else mark.line + 1


def redact(text: str, spec: Spec, hidden: list[str]) -> str:
    """`text` with the lines of each hidden conversation (and the comment lines right above it) emptied, and
    `fix.holdout` itself hidden. The number of lines does not change, so line numbers stay true."""
    if not hidden:
        return text
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    lines = text.split("\n")
    tests = _value(root, "tests")
    for case, item in zip(spec.tests, tests[1].value if tests and isinstance(tests[1], yaml.SequenceNode) else [],
                          strict=False):
        if case.name not in hidden:
            continue
        first, dash = item.start_mark.line, item.start_mark.line
        while first > 0 and lines[first - 1].strip().startswith("#"):
            first -= 1
        indent = lines[dash][:len(lines[dash]) - len(lines[dash].lstrip())]
        for number in range(first, min(_end_line(lines, item), len(lines))):
            lines[number] = f"{indent}- {HIDDEN}" if number == dash else ""
    fix = _value(root, "fix")
    found = _value(fix[1], "holdout") if fix is not None else None
    if found is not None:
        key, value = found
        indent = " " * key.start_mark.column
        for number in range(key.start_mark.line, min(_end_line(lines, value), len(lines))):
            lines[number] = f"{indent}# holdout: (hidden from the patcher)" if number == key.start_mark.line else ""
    return "\n".join(lines)
