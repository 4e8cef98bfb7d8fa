"""Build the image of a generated context through the Docker SDK, with live progress.

The engine may have no registry and no route to the package index, so the dependencies come from
a wheelhouse made on the host with this environment's pip (cached by the hash of the pinned
requirements) and the Dockerfile installs them with `--no-index`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from factory.build._context import GeneratedContext
from factory.build._engine import connect
from factory.errors import ExitCode, UserError

__all__ = [
    "IMAGE_PYTHON",
    "BuildResult",
    "build_image",
    "check_python",
    "host_python",
    "image_python",
    "prepare_wheelhouse",
    "wheel_cache_dir",
]

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_TAIL = 40
_PYTHON_TAG = re.compile(r"(?:^|/)python:(\d+\.\d+)")

IMAGE_PYTHON = "3.11"
"""The Python of the supported bases (python:3.11-slim, factory-base:bookworm)."""


@dataclass(frozen=True)
class BuildResult:
    """What a build produced: the tag, its id and size, and how long it took."""

    tag: str
    image_id: str
    size: int
    base_size: int | None
    seconds: float
    steps: int
    cached_steps: int

    @property
    def size_over_base(self) -> int | None:
        return None if self.base_size is None else self.size - self.base_size


def wheel_cache_dir() -> Path:
    """`FACTORY_WHEEL_CACHE`, else `$XDG_CACHE_HOME/factory/wheels` (kept out of any clone)."""
    if os.environ.get("FACTORY_WHEEL_CACHE"):
        return Path(os.environ["FACTORY_WHEEL_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "factory" / "wheels"


def host_python() -> str:
    """`X.Y` of the Python running `factory`, the one `pip wheel` makes the wheelhouse with."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def image_python(base_image: str, client: Any = None) -> str:
    """`X.Y` of the base image's Python: its `PYTHON_VERSION` (python:X.Y-slim sets it), else the
    `python:X.Y...` tag, else 3.11 (factory-base:bookworm is Debian bookworm's 3.11)."""
    if client is not None:
        from docker.errors import DockerException

        try:
            env = client.api.inspect_image(base_image).get("Config", {}).get("Env") or []
        except DockerException:
            env = []
        for item in env:
            if str(item).startswith("PYTHON_VERSION="):
                return ".".join(str(item).split("=", 1)[1].split(".")[:2])
    match = _PYTHON_TAG.search(base_image)
    return match[1] if match else IMAGE_PYTHON


def check_python(*, host: str, image: str, base_image: str) -> None:
    """A wheelhouse made by Python `host` holds `cpXY` wheels the image's Python `image` cannot install."""
    if host == image:
        return
    raise UserError(
        f"this machine's Python is {host} but the image's ({base_image}) is {image}: the wheelhouse "
        f"made here with pip would hold wheels for Python {host} that the image cannot install",
        hint=(
            f"run factory from a Python {image} environment (python{image} -m venv .venv && "
            f".venv/bin/pip install -e '.[dev]'), or pass a base image with Python {host} "
            f"(--base-image python:{host}-slim)"
        ),
        exit_code=ExitCode.BUILD_FAILED,
    )


def prepare_wheelhouse(context: Path, *, console: Console | None = None) -> Path:
    """Fill `context/wheels/` with wheels of `context/requirements.txt` (made once per requirements set)."""
    requirements = context / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    cache = wheel_cache_dir() / digest
    if not (cache / ".complete").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        if console:
            console.print(f"[dim]making the wheelhouse {cache} (once per set of requirements)[/]")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--disable-pip-version-check",
            "-r",
            str(requirements),
            "-w",
            str(cache),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-_TAIL:]
            raise UserError(
                "could not make the wheelhouse for the image (pip wheel failed)",
                hint="check that this machine reaches the package index (pip config, certs)",
                exit_code=ExitCode.BUILD_FAILED,
                details=tail,
            )
        (cache / ".complete").write_text(digest + "\n")
    wheels = context / "wheels"
    wheels.mkdir(exist_ok=True)
    for old in wheels.glob("*.whl"):
        old.unlink()
    for wheel in sorted(cache.glob("*.whl")):
        try:
            os.link(wheel, wheels / wheel.name)
        except OSError:
            shutil.copy2(wheel, wheels / wheel.name)
    return wheels


class _BuildLog:
    """Follows the engine's JSON stream: steps, cache hits, a tail for error reports."""

    def __init__(self) -> None:
        self.tail: deque[str] = deque(maxlen=_TAIL)
        self.step = 0
        self.total = 0
        self.step_text = ""
        self.cached = 0
        self.image_id = ""

    def feed(self, chunk: dict[str, Any]) -> str | None:
        """Record one chunk; returns the error text when the chunk reports a failure."""
        if "error" in chunk:
            self.tail.append(str(chunk["error"]).rstrip())
            return str(chunk.get("errorDetail", {}).get("message") or chunk["error"]).strip()
        if "aux" in chunk and isinstance(chunk["aux"], dict):
            self.image_id = chunk["aux"].get("ID", self.image_id)
        for line in str(chunk.get("stream") or chunk.get("status") or "").splitlines():
            line = line.rstrip()
            if not line:
                continue
            self.tail.append(line)
            match = _STEP.match(line)
            if match:
                self.step, self.total, self.step_text = int(match[1]), int(match[2]), match[3]
            elif "Using cache" in line:
                self.cached += 1
        return None


def _failure(log: _BuildLog, error: str, *, base_image: str) -> UserError:
    where = f"step {log.step}/{log.total} ({log.step_text})" if log.step else "before the first step"
    hint = "read the engine's log above; `factory build --no-docker` writes the context only"
    if any(
        word in error.lower()
        for word in (
            "pull access",
            "no such host",
            "manifest",
            "registry",
            "not found: manifest",
            "connection refused",
        )
    ):
        hint = (
            f"the base image {base_image!r} is not on this engine and cannot be pulled; "
            "make a local one (bash docker/get-base-image.sh) and pass --base-image factory-base:bookworm"
        )
    return UserError(
        f"docker build failed at {where}: {error}",
        hint=hint,
        exit_code=ExitCode.BUILD_FAILED,
        details=["engine log (tail):", *log.tail],
    )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]build[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _follow(stream: Iterable[dict[str, Any]], log: _BuildLog, console: Console, *, base_image: str) -> None:
    with _progress(console) as progress:
        task = progress.add_task("starting", total=None)
        for chunk in stream:
            error = log.feed(chunk)
            if error is not None:
                raise _failure(log, error, base_image=base_image)
            if log.step:
                progress.update(task, completed=log.step - 1, total=log.total, description=log.step_text[:60])
                if (
                    not console.is_terminal
                    and "stream" in chunk
                    and _STEP.match(str(chunk["stream"]).strip())
                ):
                    console.print(f"[dim]{str(chunk['stream']).strip()[:160]}[/]")


def build_image(
    context: GeneratedContext,
    *,
    tag: str | None = None,
    base_image: str | None = None,
    console: Console | None = None,
    client: Any = None,
    wheels: bool = True,
    no_cache: bool = False,
) -> BuildResult:
    """Build `context` into `tag`; a failure is a `UserError` (exit 4) naming the step, with the log tail."""
    import requests
    import urllib3
    from docker.errors import APIError, DockerException

    console = console or Console(stderr=True)
    tag = tag or context.tag
    base_image = base_image or context.base_image
    client = client or connect()
    if wheels:
        check_python(host=host_python(), image=image_python(base_image, client), base_image=base_image)
        prepare_wheelhouse(context.path, console=console)
    log = _BuildLog()
    started = time.perf_counter()
    try:
        stream = client.api.build(
            path=str(context.path),
            tag=tag,
            buildargs={"BASE_IMAGE": base_image},
            decode=True,
            rm=True,
            forcerm=True,
            pull=False,
            nocache=no_cache,
        )
        _follow(stream, log, console, base_image=base_image)
        info = client.api.inspect_image(tag)
    except (APIError, DockerException) as exc:
        raise _failure(log, str(exc), base_image=base_image) from None
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise _failure(log, f"the engine went away during the build ({exc})", base_image=base_image) from None
    seconds = time.perf_counter() - started
    try:
        base_size: int | None = int(client.api.inspect_image(base_image)["Size"])
    except (APIError, DockerException):
        base_size = None
    return BuildResult(
        tag=tag,
        image_id=str(info["Id"]),
        size=int(info["Size"]),
        base_size=base_size,
        seconds=seconds,
        steps=log.total,
        cached_steps=log.cached,
    )
