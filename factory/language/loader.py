"""Load a spec file: YAML with positions -> shapes (node by node) -> resolve (files, sub-specs,
modules) -> checks (pure) -> a `LoadedSpec`.

Every problem is collected and raised once as a `SpecError`; the caller never sees a pydantic or
YAML traceback. A broken entry does not stop the checks of the others (see `_shape.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath

from factory.errors import SpecError, SpecIssue
from factory.language._resolve import ModuleInfo, resolve
from factory.language._shape import validate_shape
from factory.language._yaml import SourceMap, YamlLimits, load_yaml
from factory.language.models import Spec

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
    modules: dict[str, ModuleInfo] = field(default_factory=dict)
    """The spec's python modules (module name -> what it defines), read without importing them."""

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
    limit = (limits or YamlLimits()).max_bytes
    try:
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise SpecError([SpecIssue(str(path), 0, 0, f"cannot read the spec: {exc.strerror or exc}",
                                   fix="check the path")]) from None
    return _from_raw(raw, path, display=str(path), limits=limits, stack=stack)


def _from_raw(raw: bytes | str, path: FsPath, *, display: str, limits: YamlLimits | None,
              stack: tuple[FsPath, ...]) -> LoadedSpec:
    from factory.language._checks import check_spec

    data, source, issues = load_yaml(raw, display, limits=limits)
    if issues:
        raise SpecError(issues)
    shaped, issues = validate_shape(data, source)
    if shaped is None:
        raise SpecError(issues)
    here = path.resolve()
    resolved, resolve_issues = resolve(shaped, source, folder=here.parent, stack=(*stack, here),
                                       load_child=lambda p: _load(p, limits=limits, stack=(*stack, here)))
    issues += resolve_issues
    issues += check_spec(shaped, resolved, source)
    if issues:
        raise SpecError(issues)
    text = raw if isinstance(raw, str) else raw.decode("utf-8-sig")
    return LoadedSpec(spec=shaped.spec, source=source, path=here, text=text, prompts=resolved.prompts,
                      children=resolved.children, modules=resolved.modules)
