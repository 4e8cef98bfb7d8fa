"""Pinned runtime requirements: the runtime's dependency closure at the versions installed here.

The image must run what the toolchain tested, so every package the runtime (`graphs/`) needs,
directly or not, is pinned to the version `importlib.metadata` finds in this environment. The
toolchain's own dependencies (typer, rich, pydantic, docker, ...) are not included unless the
runtime needs them too.
"""

from __future__ import annotations

from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from factory.errors import ExitCode, UserError

__all__ = ["RUNTIME_REQUIREMENTS", "SERVING_REQUIREMENTS", "graph_requirements", "pinned_requirements"]

PROJECT = "meta-agent-factory"


def _runtime_requirements() -> tuple[str, ...]:
    """What `graphs/` needs at run time: the project's own `dependencies` (pyproject.toml is their
    one owner), without version ranges (the versions come from this environment) or extras' packages."""
    try:
        declared = metadata.requires(PROJECT) or []
    except metadata.PackageNotFoundError:
        raise UserError(f"{PROJECT} is not installed in this environment",
                        hint="install the project first: pip install -e '.[dev]'",
                        exit_code=ExitCode.BUILD_FAILED) from None
    roots = []
    for text in declared:
        requirement = Requirement(text)
        if requirement.marker is None:  # `extra == "..."` markers belong to the optional groups
            extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
            roots.append(f"{requirement.name}{extras}")
    return tuple(roots)


RUNTIME_REQUIREMENTS: tuple[str, ...] = _runtime_requirements()
"""What `graphs/` imports at run time (the `dependencies` of pyproject.toml, without ranges)."""


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        raise UserError(
            f"the runtime dependency {name!r} is not installed in this environment",
            hint="install the project first: pip install -e '.[dev]'",
            exit_code=ExitCode.BUILD_FAILED,
        ) from None


def _closure(roots: tuple[str, ...]) -> dict[str, tuple[str, set[str]]]:
    """canonical name -> (distribution name as published, extras asked for), over the whole closure."""
    env = default_environment()
    found: dict[str, tuple[str, set[str]]] = {}
    todo = [Requirement(r) for r in roots]
    while todo:
        req = todo.pop()
        key = canonicalize_name(req.name)
        dist_name = metadata.metadata(req.name)["Name"] if key not in found else found[key][0]
        _version(req.name)
        known = found.get(key)
        new_extras = set(req.extras) - (known[1] if known else set())
        if known and not new_extras:
            continue
        extras = (known[1] if known else set()) | set(req.extras)
        found[key] = (dist_name, extras)
        for line in metadata.requires(req.name) or []:
            dep = Requirement(line)
            if dep.marker is None:
                todo.append(dep)
                continue
            extra_envs = [{**env, "extra": extra} for extra in sorted(extras)] or [{**env, "extra": ""}]
            if any(dep.marker.evaluate(e) for e in extra_envs):  # type: ignore[arg-type]
                todo.append(dep)
    return found


def pinned_requirements(roots: tuple[str, ...] = RUNTIME_REQUIREMENTS) -> str:
    """The text of requirements.txt: one `name[extras]==version` per line, sorted, stable."""
    lines = []
    for key, (_dist, extras) in sorted(_closure(roots).items()):
        extra = f"[{','.join(sorted(extras))}]" if extras else ""
        lines.append(f"{key}{extra}=={_version(key)}")
    return "\n".join(lines) + "\n"


SERVING_REQUIREMENTS: frozenset[str] = frozenset({
    "langserve[server]", "fastapi", "uvicorn", "httptools", "uvloop", "sse-starlette", "orjson",
    "langgraph-checkpoint-sqlite", "langgraph-checkpoint-postgres", "psycopg[binary]",
    "prometheus-client", "redis", "async-timeout", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http",
})
"""What only the factory's own server needs (its routes and checkpointers): a LangGraph server brings
its own (and langserve's `sse-starlette<2` would not install beside it)."""


def graph_requirements(*, exact: bool = False) -> list[str]:
    """What the compiled graph needs on LangGraph's server: the runtime's requirements without the
    serving ones, each as a compatible release of the version installed here (`langgraph~=1.2`,
    `common-expression-language~=0.10.0`), so the server's own pins can choose within it.
    `exact=True` pins `==` instead (a test environment that must match this one)."""
    out = []
    for root in RUNTIME_REQUIREMENTS:
        if root in SERVING_REQUIREMENTS:
            continue
        name = Requirement(root).name
        version = _version(name)
        if exact:
            out.append(f"{name}=={version}")
            continue
        parts = version.split(".")
        keep = 2 if parts[0] != "0" else 3  # 0.x: a minor release may break
        out.append(f"{name}~={'.'.join(parts[:keep])}")
    return sorted(out)
