"""Shape validation that keeps going: a broken entry is reported and left out, the rest is checked.

Pydantic validates the whole file at once and, on any error, gives no model at all, so one node
with a missing `prompt` used to hide every reference, graph, CEL and template problem of the rest
of the file. Here a failed validation is reported in full, then retried without the entries that
failed (a node, a slot, a tool, an edge, a conversation...). The checks run on what is left, and
the names of the entries left out stay *known*, so an edge to a broken node or a prompt naming a
broken slot does not add a second, misleading problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from factory.errors import SpecIssue
from factory.language._errors import pydantic_issues
from factory.language._yaml import SourceMap
from factory.language.models import Spec

__all__ = ["Names", "Section", "Shaped", "validate_shape"]

Section = Literal["models", "state", "prompts", "tools", "mcp_servers", "nodes", "edges", "tests"]
_MAPPINGS: tuple[Section, ...] = ("models", "state", "prompts", "tools", "mcp_servers", "nodes")
_LISTS: tuple[Section, ...] = ("edges", "tests")
_SETTINGS = ("serve", "fix")
_PLACEHOLDERS = {"spec": 1, "name": "spec"}
"""Required scalars no check reads: a broken one is replaced so the rest can validate."""


@dataclass(frozen=True)
class Names:
    """The names of one section: those that validated, and those whose shape failed (reported)."""

    valid: frozenset[str]
    broken: frozenset[str] = frozenset()
    unknowable: bool = False
    """The whole section had the wrong shape: any name may have been meant."""

    def __contains__(self, name: object) -> bool:
        return self.unknowable or name in self.valid or name in self.broken

    def all(self) -> frozenset[str]:
        return self.valid | self.broken


@dataclass(frozen=True)
class Shaped:
    """A spec whose broken entries were left out, and what was left out."""

    spec: Spec
    broken: Mapping[Section, frozenset[str]] = field(default_factory=dict)
    """Section -> names (mappings) or file indexes as text (lists) of the entries left out."""
    unusable: frozenset[Section] = frozenset()
    """Sections whose whole value had the wrong shape."""
    edge_at: tuple[int, ...] = ()
    """The file index of each edge of `spec.edges`."""
    test_at: tuple[int, ...] = ()
    """The file index of each conversation of `spec.tests`."""
    node_order: tuple[str, ...] = ()
    """Every node id as written, broken ones included."""

    @property
    def complete(self) -> bool:
        """Nothing was left out: every check may trust what it does not see."""
        return not self.unusable and not any(self.broken.values())

    def names(self, section: Section) -> Names:
        valid = getattr(self.spec, section)
        assert isinstance(valid, dict), section
        return Names(frozenset(valid), self.broken.get(section, frozenset()), section in self.unusable)

    def edges_complete(self) -> bool:
        """Whether every edge of the file validated (the graph's shape can be judged)."""
        return "edges" not in self.unusable and not self.broken.get("edges") and "nodes" not in self.unusable


def validate_shape(data: dict[str, Any], source: SourceMap) -> tuple[Shaped | None, list[SpecIssue]]:
    """Every shape problem, and the spec without the entries they are in (None when nothing usable
    is left, e.g. a file that is not a spec at all)."""
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        return _salvage(data, exc), pydantic_issues(exc, data, source)
    nodes = data.get("nodes")
    return Shaped(spec, edge_at=tuple(range(len(spec.edges))), test_at=tuple(range(len(spec.tests))),
                  node_order=tuple(nodes) if isinstance(nodes, dict) else ()), []


def _salvage(data: dict[str, Any], exc: ValidationError) -> Shaped | None:
    cleaned = dict(data)
    broken: dict[Section, set[str]] = {}
    unusable: set[Section] = set()
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        if not loc:
            return None
        top = str(loc[0])
        section = _section(top)
        if section is not None:
            if len(loc) == 1:
                unusable.add(section)
            else:
                broken.setdefault(section, set()).add(str(loc[1]))
        elif top in _SETTINGS and len(loc) >= 2 and isinstance(cleaned.get(top), dict):
            cleaned[top] = {k: v for k, v in cleaned[top].items() if k != loc[1]}
        else:
            cleaned.pop(top, None)  # an unknown key, a broken scalar, settings of the wrong type
    order = data.get("nodes")
    node_order = tuple(order) if isinstance(order, dict) else ()
    kept: dict[Section, tuple[int, ...]] = {}
    for section in (*_MAPPINGS, *_LISTS):
        value = cleaned.get(section)
        if section in unusable or (value is None and section in ("nodes", "edges")):
            cleaned[section] = [] if section in _LISTS else {}
            unusable.add(section)
        elif section in _LISTS and isinstance(value, list):
            left_out = broken.get(section, set())
            kept[section] = tuple(i for i in range(len(value)) if str(i) not in left_out)
            cleaned[section] = [value[i] for i in kept[section]]
        elif isinstance(value, dict):
            cleaned[section] = {k: v for k, v in value.items() if k not in broken.get(section, set())}
    for key, placeholder in _PLACEHOLDERS.items():
        cleaned.setdefault(key, placeholder)
    try:
        spec = Spec.model_validate(cleaned)
    except ValidationError:
        return None  # not expected: every failing entry was left out; then report the shape alone
    return Shaped(spec, broken={s: frozenset(n) for s, n in broken.items()}, unusable=frozenset(unusable),
                  edge_at=kept.get("edges", ()), test_at=kept.get("tests", ()), node_order=node_order)


def _section(key: str) -> Section | None:
    for section in (*_MAPPINGS, *_LISTS):
        if key == section:
            return section
    return None
