"""The house rules (`docs/design.md`), checked on the whole code base so that a new module cannot
quietly break them: events matched by class, a typed plan, small modules, explicit public names, and a
runtime (`graphs/`) that never needs the toolchain (`factory/`)."""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest

from graphs.events import EventName

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("graphs", "factory")
MAX_LINES = 500
"""Modules stay under ~450 lines; this is the hard ceiling."""


def _modules() -> Iterator[Path]:
    for top in SOURCES:
        yield from sorted((ROOT / top).rglob("*.py"))


def _where(path: Path, number: int) -> str:
    return f"{path.relative_to(ROOT)}:{number}"


def test_no_module_compares_an_event_name_to_a_string() -> None:
    """Consumers match the typed events of `graphs.events` by class, never `event.event == "token"`
    (a wire protocol's own names, such as SSE's `message`, are not the factory's events)."""
    names = "|".join(get_args(EventName))
    compare = re.compile(rf"""\.event\s*(?:==|!=)\s*["'](?:{names})["']|\.event\s+in\s*[(\[{{]\s*["'](?:{names})["']"""
                         rf"""|["'](?:{names})["']\s*(?:==|!=)\s*\w+\.event\b""")
    found = [_where(path, number) for path in _modules()
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if compare.search(line)]
    assert not found, f"match events with isinstance (graphs.events), not by name: {found}"


def test_the_plan_is_typed_wherever_it_is_passed() -> None:
    """A plan travels as `graphs.plan.Plan` (or a node's own plan type), never as `Any` or a bare dict."""
    loose = re.compile(r"\bplan\s*:\s*(?:Any|dict\[str,\s*Any\]|Mapping\[str,\s*Any\])")
    found = [_where(path, number) for path in _modules()
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if loose.search(line)]
    assert not found, f"type the plan (graphs.plan.Plan / NodePlan): {found}"


def test_modules_stay_small() -> None:
    big = {str(path.relative_to(ROOT)): n for path in _modules()
           if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not big, f"split these modules (one concern each, under ~450 lines): {big}"


def test_the_runtime_never_imports_the_toolchain() -> None:
    """`graphs/` ships in the image without `factory/`."""
    found = []
    for path in sorted((ROOT / "graphs").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            found += [_where(path, node.lineno) for name in names if name.split(".")[0] == "factory"]
    assert not found, found


def _packages() -> Iterator[str]:
    for top in SOURCES:
        for init in sorted((ROOT / top).rglob("__init__.py")):
            yield ".".join(init.parent.relative_to(ROOT).parts)


@pytest.mark.parametrize("package", list(_packages()))
def test_every_package_says_what_is_public(package: str) -> None:
    """Each package lists its public names in `__all__`, and each name it lists exists."""
    module = importlib.import_module(package)
    public = getattr(module, "__all__", None)
    assert public is not None, f"{package} has no __all__"
    missing = [name for name in public if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not define: {missing}"
