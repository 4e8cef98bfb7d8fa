"""The docker runner: build the image, run it on a free host port, always remove the container."""

from __future__ import annotations

import contextlib
import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from rich.console import Console

from factory.build import build_image, connect, write_context
from factory.errors import ExitCode, UserError
from factory.language.loader import LoadedSpec
from factory.runners._common import LogBuffer, Runner, wait_ready
from factory.runners._local import server_args
from graphs.plan import Plan

__all__ = ["CONTAINER_LABEL", "run_docker"]

CONTAINER_LABEL = "dev.factory.runner"
"""Every container a runner starts carries this label (value: the agent's name)."""


@contextmanager
def run_docker(
    loaded: LoadedSpec,
    plan: Plan,
    *,
    test_mode: bool,
    model_override: str | None,
    env: Mapping[str, str] | None,
    ready_timeout: float,
    base_image: str,
    console: Console,
    on_log: Callable[[str], None] | None,
    tag: str | None = None,
) -> Iterator[Runner]:
    """Build `factory-run/<name>`, start a container, wait for `/ready`; stop and remove it after."""
    from docker.errors import APIError, DockerException, NotFound

    client = connect()
    try:
        with tempfile.TemporaryDirectory(prefix="factory-docker-") as tmp:
            name = plan["name"]
            tag = tag or f"factory-run/{name}:latest"
            context = write_context(loaded, plan, Path(tmp), tag=tag, base_image=base_image)
            previous = _image_id(client, tag)
            result = build_image(context, tag=tag, base_image=base_image, console=console, client=client)
            console.print(
                f"[dim]image {tag} built in {result.seconds:.1f} s "
                f"({result.cached_steps} of {result.steps} steps cached)[/]"
            )
            if previous and previous != result.image_id:
                _remove_image(client, previous)
        container = None
        logs = LogBuffer(on_line=on_log)
        try:
            container = client.containers.run(
                tag,
                command=server_args(test_mode=test_mode, model_override=model_override),
                detach=True,
                name=f"factory-{name}-{secrets.token_hex(4)}",
                environment=dict(env or {}),
                ports={"8000/tcp": ("127.0.0.1", None)},
                labels={CONTAINER_LABEL: name},
            )
            port = _host_port(container)
            logs.follow(container.logs(stream=True, follow=True))
            runner = Runner(
                kind="docker",
                base_url=f"http://127.0.0.1:{port}",
                name=name,
                detail=f"container {container.short_id}",
                _logs=logs,
            )
            wait_ready(
                runner.base_url,
                alive=lambda: _running(container),
                logs=logs,
                timeout=ready_timeout,
                what=f"docker, container {container.short_id}",
            )
            yield runner
        except (APIError, DockerException) as exc:
            raise UserError(
                f"the docker engine failed to run the agent: {exc}",
                exit_code=ExitCode.BUILD_FAILED,
                details=["container log (tail):", *logs.tail()],
            ) from None
        finally:
            if container is not None:
                with suppress(NotFound):
                    container.remove(force=True)
            logs.join()
    finally:
        client.close()


def _image_id(client: Any, tag: str) -> str | None:
    from docker.errors import DockerException

    try:
        return str(client.api.inspect_image(tag)["Id"])
    except DockerException:
        return None


def _remove_image(client: Any, image_id: str) -> None:
    """Drop the image the new build replaced under the same tag (its layers stay cached)."""
    from docker.errors import DockerException

    with contextlib.suppress(DockerException):  # still used by a container, or tagged again: leave it
        client.api.remove_image(image_id, noprune=False)


def _running(container: Any) -> bool:
    container.reload()
    return container.status in ("created", "running")


def _host_port(container: Any) -> int:
    container.reload()
    bindings = container.attrs["NetworkSettings"]["Ports"].get("8000/tcp") or []
    if not bindings:
        raise UserError("the container published no port for 8000/tcp", exit_code=ExitCode.BUILD_FAILED)
    return int(bindings[0]["HostPort"])
