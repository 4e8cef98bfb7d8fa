"""Find a Docker engine that answers: `DOCKER_HOST` first, then the usual sockets."""

from __future__ import annotations

import importlib
import os
from typing import Any

from factory.errors import ExitCode, UserError

__all__ = ["FACTORY_SOCKET", "connect", "engine_available"]

FACTORY_SOCKET = "unix:///run/factory-docker.sock"
"""Where `docker/get-engine.sh` starts its engine when none runs."""


def _candidates() -> list[str | None]:
    """`None` means the docker SDK's own defaults (`DOCKER_HOST`, else /var/run/docker.sock)."""
    found: list[str | None] = [None]
    if not os.environ.get("DOCKER_HOST"):
        found.append(FACTORY_SOCKET)
    return found


def _try(base_url: str | None, timeout: float) -> Any | None:
    from docker.errors import DockerException

    # imported by name: the repo's own docker/ folder (scripts) would shadow the package for mypy
    sdk: Any = importlib.import_module("docker.client")
    try:
        seconds = int(max(timeout, 1))
        client = (
            sdk.from_env(timeout=seconds)
            if base_url is None
            else sdk.DockerClient(base_url=base_url, timeout=seconds)
        )
        client.ping()
    except (DockerException, OSError, ValueError):
        return None
    return client


def engine_available(*, timeout: float = 3.0) -> bool:
    """True when some engine answers a ping."""
    client = _connect_or_none(timeout=timeout)
    if client is None:
        return False
    client.close()
    return True


def _connect_or_none(*, timeout: float) -> Any | None:
    for base_url in _candidates():
        client = _try(base_url, timeout)
        if client is not None:
            return client
    return None


def connect(*, timeout: float = 3.0) -> Any:
    """A `docker.DockerClient` that answered a ping, or a `UserError` (exit 4) saying how to get one."""
    client = _connect_or_none(timeout=timeout)
    if client is None:
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise UserError(
            f"no Docker engine answers at {where}",
            hint="set DOCKER_HOST, start one (docker/get-engine.sh), or use --no-docker",
            exit_code=ExitCode.BUILD_FAILED,
        )
    # builds and big layers take longer than a ping
    client.api.timeout = 600
    return client
