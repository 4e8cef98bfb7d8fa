"""The resolve step: everything a spec names outside its own text, read once, before any check.

Prompt files, sub-specs and the spec's python modules are read here (and only here), each kept
inside the spec's folder. The checks that follow are then pure functions of the spec and of what
was resolved, and the compiler reads the same resolved texts instead of a side effect of checking.
Python modules are parsed, never imported: validation runs no user code.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import TYPE_CHECKING

from factory.errors import SpecError, SpecIssue
from factory.language._shape import Shaped
from factory.language._yaml import Path, SourceMap
from factory.language.models import PromptFile, SubgraphNode

if TYPE_CHECKING:
    from factory.language.loader import LoadedSpec

__all__ = ["ModuleInfo", "Params", "Resolved", "resolve"]


@dataclass(frozen=True)
class Params:
    """The parameters of a python function, as far as keyword arguments are concerned."""

    names: tuple[str, ...]
    """Parameters that may be passed by keyword."""
    required: tuple[str, ...]
    """Those without a default."""
    any_keyword: bool
    """It takes `**kwargs`: every name is accepted."""


@dataclass(frozen=True)
class ModuleInfo:
    """A module of the spec's folder, read without importing it."""

    file: FsPath
    names: frozenset[str]
    """Names defined at its top level (functions, classes, assignments, imports)."""
    functions: dict[str, Params]
    """Top-level functions and their parameters."""


@dataclass
class Resolved:
    """What a spec names outside its text."""

    prompts: dict[str, str] = field(default_factory=dict)
    """Prompt name -> template text (files read)."""
    prompt_files: dict[str, str] = field(default_factory=dict)
    """Prompt name -> its file, relative to the spec's folder (for positions inside it)."""
    children: dict[str, LoadedSpec] = field(default_factory=dict)
    """Subgraph node id -> the loaded child spec."""
    modules: dict[str, ModuleInfo] = field(default_factory=dict)
    """Module name -> what it defines (only modules that resolved)."""
    unresolved: set[str] = field(default_factory=set)
    """Prompt names, subgraph node ids and modules that could not be resolved (already reported)."""


LoadChild = Callable[[FsPath], "LoadedSpec"]


class _Resolver:
    def __init__(self, shaped: Shaped, source: SourceMap, folder: FsPath, load_child: LoadChild,
                 stack: tuple[FsPath, ...]) -> None:
        self.spec, self.src, self.folder = shaped.spec, source, folder
        self.load_child, self.stack = load_child, stack
        self.out = Resolved()
        self.issues: list[SpecIssue] = []

    def add(self, path: Path, message: str, fix: str, *, file: str | None = None, line: int | None = None,
            column: int | None = None) -> None:
        pos = self.src.at(path)
        node = str(path[1]) if len(path) >= 2 and path[0] == "nodes" else None
        self.issues.append(SpecIssue(file or self.src.file, line or pos.line, column or pos.column, message,
                                     node=node, fix=fix))

    def inside(self, path: Path, relative: str, what: str) -> FsPath | None:
        target = (self.folder / relative).resolve()
        if FsPath(relative).is_absolute() or not target.is_relative_to(self.folder):
            self.add(path, f"{what} {relative!r} resolves outside the spec's folder",
                     fix=f"keep {'sub-specs' if what.startswith('subgraph') else 'it'} inside the spec's folder "
                         "and use a relative path")
            return None
        return target

    def prompts(self) -> None:
        for name, value in self.spec.prompts.items():
            if not isinstance(value, PromptFile):
                self.out.prompts[name] = value
                continue
            path: Path = ("prompts", name, "file")
            target = self.inside(path, value.file, "prompt file")
            if target is None:
                self.out.unresolved.add(name)
                continue
            try:
                self.out.prompts[name] = target.read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                self.out.unresolved.add(name)
                self.add(path, f"cannot read prompt file {value.file!r}: {getattr(exc, 'strerror', None) or exc}",
                         fix="check the path (relative to the spec's folder)")
                continue
            self.out.prompt_files[name] = value.file

    def subgraphs(self) -> None:
        for node_id, node in self.spec.nodes.items():
            if not isinstance(node, SubgraphNode):
                continue
            path: Path = ("nodes", node_id, "spec")
            target = self.inside(path, node.spec, "subgraph spec")
            if target is not None and target in self.stack:
                self.add(path, f"subgraph spec {node.spec!r} includes itself (a cycle of specs)",
                         fix="a spec cannot contain itself")
                target = None
            if target is None:
                self.out.unresolved.add(node_id)
                continue
            try:
                self.out.children[node_id] = self.load_child(target)
            except SpecError as exc:
                self.out.unresolved.add(node_id)
                self.issues.extend(exc.issues)
                self.add(path, f"subgraph spec {node.spec!r} is invalid (see its errors)",
                         fix=f"fix the problems reported in {node.spec}, or check it with "
                             f"`factory validate {node.spec}`")

    def modules(self) -> None:
        refs: list[tuple[Path, str]] = [(("tools", name, "python"), tool.python)
                                        for name, tool in self.spec.tools.items() if tool.python is not None]
        refs += [(("nodes", node_id, "function"), node.function) for node_id, node in self.spec.nodes.items()
                 if node.kind == "python"]
        for path, ref in refs:
            module = ref.partition(":")[0]
            if module in self.out.modules:
                continue
            info = self.module(path, ref, module)
            if info is None:
                self.out.unresolved.add(module)
            else:
                self.out.modules[module] = info

    def module(self, path: Path, ref: str, module: str) -> ModuleInfo | None:
        """`module:function` must name a module file inside the spec's folder: a spec runs its own
        code only, never an arbitrary installed module (`subprocess:getoutput`)."""
        from graphs.spec_code import module_source

        source = module_source(self.folder, module)
        if source is None:
            self.add(path, f"python module {module!r} of {ref!r} is not a file inside the spec's folder",
                     fix=f"put {module.split('.')[-1]}.py next to the spec "
                         "(a spec may only run code from its own folder)")
            return None
        try:
            tree = ast.parse(source.read_text("utf-8"))
        except SyntaxError as exc:
            self.add(path, f"{source.name} does not parse: {exc.msg}", file=str(source), line=exc.lineno or 1,
                     column=exc.offset or 1, fix="fix the Python syntax")
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.add(path, f"cannot read {source.name}: {exc}", fix="save it as UTF-8 text")
            return None
        return _module_info(source, tree)


def _module_info(file: FsPath, tree: ast.Module) -> ModuleInfo:
    names: set[str] = set()
    functions: dict[str, Params] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
            functions[node.name] = _params(node.args)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return ModuleInfo(file, frozenset(names), functions)


def _params(args: ast.arguments) -> Params:
    ordered = [*args.posonlyargs, *args.args]
    first_default = len(ordered) - len(args.defaults)
    keyword = [a.arg for a in args.args] + [a.arg for a in args.kwonlyargs]
    required = [a.arg for i, a in enumerate(ordered) if i >= len(args.posonlyargs) and i < first_default]
    required += [a.arg for a, default in zip(args.kwonlyargs, args.kw_defaults, strict=True) if default is None]
    return Params(tuple(keyword), tuple(required), args.kwarg is not None)


def resolve(shaped: Shaped, source: SourceMap, *, folder: FsPath, load_child: LoadChild,
            stack: tuple[FsPath, ...]) -> tuple[Resolved, list[SpecIssue]]:
    """Read what the spec names: prompt files, sub-specs (loaded and checked in full), python modules."""
    resolver = _Resolver(shaped, source, folder, load_child, stack)
    resolver.prompts()
    resolver.subgraphs()
    resolver.modules()
    return resolver.out, resolver.issues
