"""Fixtures shared by every test folder: a real Docker engine and a base image on it (skip, or fail under
FACTORY_REQUIRE_DOCKER=1)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from real_parts import unavailable

ROOT = Path(__file__).resolve().parents[1]
LOCAL_BASE = "factory-base:bookworm"


def _require() -> bool:
    return os.environ.get("FACTORY_REQUIRE_DOCKER") == "1"


def _unavailable(reason: str) -> None:
    unavailable("FACTORY_REQUIRE_DOCKER", reason)


def _get_engine() -> None:
    """Run docker/get-engine.sh (CI only) and take its `export DOCKER_HOST=...` line."""
    script = ROOT / "docker" / "get-engine.sh"
    if not script.is_file():
        return
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=600, check=False)
    last = (done.stdout.strip().splitlines() or [""])[-1]
    if done.returncode == 0 and last.startswith("export DOCKER_HOST="):
        os.environ["DOCKER_HOST"] = last.removeprefix("export DOCKER_HOST=").strip().strip("'\"")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    from factory.build import engine_available

    if not engine_available() and _require():
        _get_engine()
    if not engine_available():
        _unavailable("no Docker engine answers (DOCKER_HOST, /var/run/docker.sock, /run/factory-docker.sock)")
    from factory.build import connect

    client = connect()
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: Any) -> str:
    """A base image the engine has: `FACTORY_BASE_IMAGE`, factory-base:bookworm or python:3.11-slim."""
    from docker.errors import ImageNotFound

    wanted = [os.environ.get("FACTORY_BASE_IMAGE"), LOCAL_BASE, "python:3.11-slim"]
    for name in [w for w in wanted if w]:
        try:
            docker_client.images.get(name)
            return name
        except ImageNotFound:
            continue
    script = ROOT / "docker" / "get-base-image.sh"
    if _require() and script.is_file():
        subprocess.run(["bash", str(script)], check=True, timeout=1800, stdout=subprocess.DEVNULL)
        return LOCAL_BASE
    _unavailable(f"no base image on the engine (make one: bash {script.relative_to(ROOT)})")
    raise AssertionError("unreachable")
