"""A spec's own python code (`python:` tools and nodes), imported from the spec's folder only.

Each module is loaded from its file under a name private to that folder, so two specs with a
`tools.py` each never share one, and a spec's `uuid.py` never resolves to the standard library's.
The folder also goes on `sys.path`, so a module can import its siblings.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["CodeError", "SpecCode", "module_source"]


class CodeError(RuntimeError):
    """A `module:function` that cannot be loaded; the message says which and why."""


def module_source(folder: Path, module: str) -> Path | None:
    """The file of `module` (`a.b` -> `a/b.py` or `a/b/__init__.py`) inside `folder`, or None when
    there is none or it resolves outside (a symlink out of the folder). The one rule for validation,
    the build context and the runtime."""
    root = folder.resolve()
    parts = module.split(".")
    candidates = (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py"))
    source = next((c for c in candidates if c.is_file()), None)
    return source if source is not None and source.resolve().is_relative_to(root) else None


class SpecCode:
    """Loads `module:function` references from one folder."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).resolve()
        self.prefix = "factory_spec_" + hashlib.sha256(str(self.folder).encode()).hexdigest()[:12]
        if str(self.folder) not in sys.path:
            sys.path.append(str(self.folder))

    def _source(self, module: str) -> Path:
        source = module_source(self.folder, module)
        if source is None:
            raise CodeError(f"no module {module!r} in {str(self.folder)!r} (a spec runs only code from its own folder)")
        return source

    def _module(self, module: str) -> ModuleType:
        name = f"{self.prefix}_{module.replace('.', '__')}"
        if name in sys.modules:
            return sys.modules[name]
        source = self._source(module)
        package = [str(source.parent)] if source.name == "__init__.py" else None
        spec = importlib.util.spec_from_file_location(name, source, submodule_search_locations=package)
        assert spec is not None and spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        try:
            spec.loader.exec_module(loaded)
        except Exception as exc:
            del sys.modules[name]
            raise CodeError(f"importing {module!r} ({source.name}) failed: {type(exc).__name__}: {exc}") from None
        return loaded

    def function(self, ref: str) -> Callable[..., Any]:
        """The callable named by `module:function`."""
        module, _, attr = ref.partition(":")
        found = getattr(self._module(module), attr, None)
        if not callable(found):
            raise CodeError(f"module {module!r} has no function {attr!r}")
        return found  # type: ignore[no-any-return]
