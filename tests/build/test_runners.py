"""Runners: the same agent through `local` and `docker`, the `auto` choice, cleanup on errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from build_helpers import SALES_SPEC
from httpx_sse import connect_sse
from rich.console import Console

from factory.errors import UserError
from factory.language.loader import load_spec
from factory.runners import CONTAINER_LABEL, resolve_kind, start_runner

TURN = {
    "message": "I work at Initech.",
    "script": {
        "understand": [{"company": "Initech"}],
        "ask_pain": ["Thanks! What made you reach out to us today?"],
    },
}


def _converse(base_url: str) -> tuple[list[str], dict[str, Any]]:
    with (
        httpx.Client(timeout=60) as client,
        connect_sse(client, "POST", f"{base_url}/chat/stream", json=TURN) as es,
    ):
        events = [(e.event, json.loads(e.data)) for e in es.iter_sse()]
    names = [n for n, _ in events if n != "token"]
    return names, events[-1][1]


def _summary(kind: str, base_image: str | None = None) -> tuple[list[str], dict[str, Any], str]:
    console = Console(file=None, stderr=True)
    with start_runner(
        kind,
        load_spec(SALES_SPEC),
        model_override="scripted",
        base_image=base_image,  # type: ignore[arg-type]
        env={"FACTORY_CHECKPOINTER": "memory"},
        console=console,
    ) as runner:
        assert runner.kind == kind
        names, end = _converse(runner.base_url)
        return names, end, runner.logs()


def test_local_runner_serves_the_agent_and_stops_it() -> None:
    with start_runner("local", load_spec(SALES_SPEC), model_override="scripted") as runner:
        base_url = runner.base_url
        names, end = _converse(base_url)
        assert names[0] == "metadata" and names[-1] == "end"
        assert end["path"][-1] == "ask_pain"
        assert "/chat/stream" in runner.logs()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base_url}/health", timeout=2)


def test_local_runner_reports_a_server_that_dies(tmp_path: Path) -> None:
    folder = tmp_path / "spec"
    shutil.copytree(SALES_SPEC.parent, folder, ignore=shutil.ignore_patterns("__pycache__"))
    # the functions the spec names stay defined (the loader checks them); importing the module fails
    tools = folder / "sales_tools.py"
    tools.write_text(tools.read_text() + "\nraise RuntimeError('broken tools module')\n")
    with (
        pytest.raises(UserError) as caught,
        start_runner(
            "local", load_spec(folder / SALES_SPEC.name), model_override="scripted", ready_timeout=60
        ),
    ):
        pass
    assert caught.value.exit_code == 4
    assert "broken tools module" in "\n".join(caught.value.details)


def test_auto_says_which_runner_it_picked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import io

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    out = io.StringIO()
    assert resolve_kind("auto", console=Console(file=out, width=200)) == "local"
    assert "runner: local (no Docker engine answers)" in out.getvalue()
    assert resolve_kind("docker") == "docker"


@pytest.mark.docker
def test_docker_and_local_give_the_same_conversation(docker_client: Any, base_image: str) -> None:
    local_names, local_end, _ = _summary("local")
    docker_names, docker_end, logs = _summary("docker", base_image)
    assert docker_names == local_names
    for key in ("reply", "path", "interrupted"):
        assert docker_end[key] == local_end[key], key
    assert "Uvicorn running" in logs
    assert not docker_client.containers.list(all=True, filters={"label": CONTAINER_LABEL})


@pytest.mark.docker
def test_docker_runner_removes_its_container_when_the_caller_fails(
    docker_client: Any, base_image: str
) -> None:
    with (
        pytest.raises(KeyboardInterrupt),
        start_runner("docker", load_spec(SALES_SPEC), model_override="scripted", base_image=base_image),
    ):
        assert docker_client.containers.list(filters={"label": CONTAINER_LABEL})
        raise KeyboardInterrupt
    assert not docker_client.containers.list(all=True, filters={"label": CONTAINER_LABEL})
