"""Write the build context `generated/<name>/`: byte-for-byte the same output for the same input.

Everything is rendered from sandboxed Jinja templates (`StrictUndefined`: a missing variable is our
bug, never silent). JSON has sorted keys, no timestamp is written anywhere, and files are listed
in sorted order, so the committed example can be regenerated in CI and diffed.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from factory.build._requirements import graph_requirements, pinned_requirements
from factory.errors import ExitCode, UserError
from factory.language.loader import LoadedSpec
from graphs.plan import Plan, serve_settings
from graphs.spec_code import module_source

__all__ = ["DEFAULT_BASE_IMAGE", "GeneratedContext", "copy_runtime", "langgraph_config", "render_context",
           "write_context"]

DEFAULT_BASE_IMAGE = "python:3.11-slim"
PORT = 8000
UID = 10001
DATA_DIR = "/var/lib/agent"
_TEMPLATES = Path(__file__).parent / "templates"
_COMMITTED_MARK = ".factory-generated"


@dataclass
class GeneratedContext:
    """A written build context: where it is and what it holds."""

    name: str
    path: Path
    files: dict[str, bytes] = field(default_factory=dict)
    """Relative path -> content of every generated file (not graphs/ nor wheels)."""
    tag: str = ""
    base_image: str = DEFAULT_BASE_IMAGE

    @property
    def plan_path(self) -> Path:
        return self.path / "agent" / "plan.json"

    @property
    def agent_dir(self) -> Path:
        return self.path / "agent"


def _env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(_TEMPLATES)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False, sort_keys=True)
    env.filters["docker_str"] = _docker_str
    return env


def _docker_str(value: str) -> str:
    """A double-quoted Dockerfile string: no variable expansion, no line break."""
    text = " ".join(str(value).split())
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def _plans(plan: Plan) -> list[Plan]:
    found = [plan]
    for node in plan["nodes"].values():
        if node["kind"] == "subgraph":
            found.extend(_plans(node["plan"]))
    return found


def _secret_env(plan: Plan) -> list[str]:
    """Names of the variables holding secrets (model keys, http and MCP headers, API keys), never values."""
    names: set[str] = set()
    for sub in _plans(plan):
        names.update(key for m in sub["models"].values() if (key := m.get("api_key_env")))
        for tool in sub["tools"].values():
            if "http" in tool:
                names.update(tool["http"]["headers_env"].values())
        for server in (sub.get("mcp_servers") or {}).values():
            names.update((server.get("headers") or {}).values())
            names.update(server.get("env") or [])  # what a stdio server is given, by name
        auth = serve_settings(sub)["auth"]
        if auth and auth["api_keys_env"]:
            names.add(auth["api_keys_env"])
    return sorted(names)


def _python_modules(loaded: LoadedSpec, plan: Plan, *, rel: Path = Path(".")) -> dict[str, bytes]:
    """Relative path in agent/ -> source of each module named by a `python:` tool or node."""
    refs = [t["python"] for t in plan["tools"].values() if t.get("form") == "python"]
    refs += [n["function"] for n in plan["nodes"].values() if n["kind"] == "python"]
    out: dict[str, bytes] = {}
    folder = loaded.folder.resolve()
    for ref in sorted(set(refs)):
        module = ref.split(":", 1)[0]
        out.update(_module_files(folder, module, ref=ref, rel=rel, spec_file=loaded.path))
    for node_id, node in plan["nodes"].items():
        if node["kind"] == "subgraph" and node_id in loaded.children:
            child = loaded.children[node_id]
            child_rel = Path(_relative_folder(folder, child.folder.resolve(), child.path))
            node["plan"]["python_path"] = [child_rel.as_posix()]
            out.update(_python_modules(child, node["plan"], rel=child_rel))
    out.update(_mcp_server_files(loaded, plan, rel=rel))
    return out


def _mcp_server_files(loaded: LoadedSpec, plan: Plan, *, rel: Path) -> dict[str, bytes]:
    """The files of the spec's folder a stdio MCP server names (its script in `args`, a `command`
    that is a relative path): the server runs in the agent's folder in the image too."""
    folder = loaded.folder.resolve()
    out: dict[str, bytes] = {}
    for server in (plan.get("mcp_servers") or {}).values():
        if "command" not in server:
            continue
        for name in [server["command"], *server.get("args", [])]:
            path = (folder / name).resolve()
            if not Path(name).is_absolute() and path.is_file() and path.is_relative_to(folder):
                out[(rel / path.relative_to(folder)).as_posix()] = path.read_bytes()
    return out


def _relative_folder(root: Path, folder: Path, spec_file: Path) -> str:
    try:
        return folder.relative_to(root).as_posix() or "."
    except ValueError:
        raise UserError(
            f"the sub-spec {str(spec_file)!r} lies outside the main spec's folder {str(root)!r}",
            hint="move it (and its python modules) inside the main spec's folder",
            exit_code=ExitCode.BUILD_FAILED,
        ) from None


def _module_files(folder: Path, module: str, *, ref: str, rel: Path, spec_file: Path) -> dict[str, bytes]:
    parts = module.split(".")
    source = module_source(folder, module)
    if source is None:
        raise UserError(
            f"{spec_file}: the python module of {ref!r} is not a file inside {str(folder)!r}",
            hint=f"put {parts[-1]}.py next to the spec (only the spec's folder is copied)",
            exit_code=ExitCode.BUILD_FAILED,
        )
    out: dict[str, bytes] = {}
    files = sorted(source.parent.rglob("*.py")) if source.name == "__init__.py" else [source]
    for path in files:
        if "__pycache__" not in path.parts:
            out[(rel / path.relative_to(folder)).as_posix()] = path.read_bytes()
    # parent packages of a dotted module need their __init__.py too
    for depth in range(1, len(parts)):
        init = folder.joinpath(*parts[:depth]) / "__init__.py"
        if init.is_file():
            out[(rel / init.relative_to(folder)).as_posix()] = init.read_bytes()
    return out


def render_context(loaded: LoadedSpec, plan: Plan, *, tag: str | None = None) -> dict[str, bytes]:
    """Every file of the context (relative path -> bytes), without writing anything.

    The base image is not an input: the Dockerfile defaults to `python:3.11-slim` and takes the
    `BASE_IMAGE` build argument, so building on a local base leaves the files unchanged.
    """
    plan = json.loads(json.dumps(plan))  # a private, JSON-clean copy
    name = plan["name"]
    modules = _python_modules(loaded, plan)
    plan_json = json.dumps(plan, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    checkpointer = (plan.get("serve") or {}).get("checkpointer") or ""
    checkpointer_env = ""
    if checkpointer.startswith("sqlite:///") and not checkpointer.startswith("sqlite:////"):
        checkpointer_env = f"sqlite:///{DATA_DIR}/{checkpointer.removeprefix('sqlite:///')}"
    variables = {
        "name": name,
        "description": plan.get("description") or "",
        "spec_file": loaded.path.name,  # never a cwd-dependent path: output must be stable
        "base_image": DEFAULT_BASE_IMAGE,
        "tag": tag or f"{name}:latest",
        "port": PORT,
        "uid": UID,
        "data_dir": DATA_DIR,
        "checkpointer_env": checkpointer_env,
        "secret_env": _secret_env(plan),
        "plan_json": plan_json,
        "plan_sha256": hashlib.sha256(plan_json.encode()).hexdigest(),
        "labels": f"app.kubernetes.io/name: {name}\napp.kubernetes.io/managed-by: factory-build",
        "graph_requirements": graph_requirements(),
        # a stop waits this long: serve.grace_s for running turns, then 10 s to close (compose, k8s)
        "stop_grace_s": math.ceil(serve_settings(plan)["grace_s"]) + 10,
    }
    env = _env()
    rendered = {
        "Dockerfile": "Dockerfile.j2",
        "entrypoint.sh": "entrypoint.sh.j2",
        ".dockerignore": "dockerignore.j2",
        ".gitignore": "gitignore.j2",
        "wheels/README.md": "wheels_readme.md.j2",
        "compose.yaml": "compose.yaml.j2",
        "k8s/configmap.yaml": "k8s/configmap.yaml.j2",
        "k8s/deployment.yaml": "k8s/deployment.yaml.j2",
        "k8s/hpa.yaml": "k8s/hpa.yaml.j2",
        "k8s/service.yaml": "k8s/service.yaml.j2",
        "agent_graph.py": "agent_graph.py.j2",
        "pyproject.toml": "pyproject.toml.j2",
    }
    files = {path: env.get_template(tpl).render(**variables).encode() for path, tpl in rendered.items()}
    files["requirements.txt"] = (
        b"# Generated by `factory build`; do not edit. The runtime's dependencies,\n"
        b"# pinned to the versions the toolchain was tested with.\n" + pinned_requirements().encode()
    )
    files["agent/plan.json"] = plan_json.encode()
    files["langgraph.json"] = langgraph_config(name).encode()
    for rel, content in modules.items():
        files[f"agent/{rel}"] = content
    return dict(sorted(files.items()))


def langgraph_config(name: str) -> str:
    """`langgraph.json`: this folder as the one dependency, the agent as the one graph (its id is the
    spec's name), built per run by `agent_graph.make_graph` (see that module's docstring)."""
    config = {"dependencies": ["."], "graphs": {name: "./agent_graph.py:make_graph"}, "python_version": "3.11"}
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def write_context(
    loaded: LoadedSpec,
    plan: Plan,
    output: Path,
    *,
    tag: str | None = None,
    base_image: str = DEFAULT_BASE_IMAGE,
    with_runtime: bool = True,
) -> GeneratedContext:
    """Write `output/<name>/`, replacing generated files and removing stale ones.

    `with_runtime` also copies the runtime package (`graphs/`) in, so the folder is a complete
    Docker build context; that copy is git-ignored (it is the installed runtime, not generated).
    """
    files = render_context(loaded, plan, tag=tag)
    name = plan["name"]
    target = output / name
    if target.exists() and any(target.iterdir()) and not (target / "Dockerfile").is_file():
        raise UserError(
            f"{str(target)!r} exists and does not look like a generated build context",
            hint="pick another --output or remove that folder",
            exit_code=ExitCode.USAGE,
        )
    for stale in ("agent", "k8s"):
        shutil.rmtree(target / stale, ignore_errors=True)
    for rel, content in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != content:
            path.write_bytes(content)
    (target / "entrypoint.sh").chmod(0o755)
    if with_runtime:
        copy_runtime(target / "graphs")
    return GeneratedContext(
        name=name, path=target, files=files, tag=tag or f"{name}:latest", base_image=base_image
    )


def copy_runtime(dest: Path) -> None:
    """Copy the runtime package (`graphs/`: its .py and package data) to `dest`, nothing else."""
    import graphs

    source = Path(graphs.__file__).parent
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
