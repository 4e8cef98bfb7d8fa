"""Builds that fail: exit 4 naming the failing step with the engine's log tail, and a host Python
that would make a wheelhouse the image cannot install."""

from __future__ import annotations

import contextlib
import io
import secrets
import tarfile
from pathlib import Path
from typing import Any

import pytest
from build_helpers import SALES_SPEC

from factory.build import _image, build_image, check_python, image_python, write_context
from factory.cli import main as _main
from factory.compiler import compile_plan
from factory.errors import UserError
from factory.language.loader import load_spec


def main(argv: list[str]) -> int:
    try:
        return _main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def _flat(text: str) -> str:
    """The CLI's error panel as one line: borders dropped, wrapped lines joined."""
    return " ".join(text.replace("│", " ").replace("╭", " ").replace("╰", " ").split())


class _FakeApi:
    def __init__(self, env: list[str] | None) -> None:
        self.env = env
        self.built = False

    def inspect_image(self, name: str) -> dict[str, Any]:
        from docker.errors import ImageNotFound

        if self.env is None:
            raise ImageNotFound(name)
        return {"Config": {"Env": self.env}}

    def build(self, **_: Any) -> Any:
        self.built = True
        raise AssertionError("the build must not start")


class _FakeClient:
    def __init__(self, env: list[str] | None) -> None:
        self.api = _FakeApi(env)


def test_the_image_python_comes_from_the_base_image() -> None:
    assert image_python("x", _FakeClient(["PATH=/usr/bin", "PYTHON_VERSION=3.12.4"])) == "3.12"
    assert image_python("python:3.13-slim", _FakeClient(None)) == "3.13"  # not pulled yet: the tag says
    assert image_python("factory-base:bookworm", _FakeClient(["PATH=/usr/bin"])) == "3.11"
    check_python(host="3.11", image="3.11", base_image="python:3.11-slim")  # same: nothing to say


def test_a_host_python_other_than_the_images_is_a_clear_error_before_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_image, "host_python", lambda: "3.12")
    loaded = load_spec(SALES_SPEC)
    context = write_context(loaded, compile_plan(loaded), tmp_path, with_runtime=False)
    client = _FakeClient(["PYTHON_VERSION=3.11.9"])
    with pytest.raises(UserError) as caught:
        build_image(context, base_image="python:3.11-slim", client=client, console=None)
    error = caught.value
    assert error.exit_code == 4
    assert "3.12" in error.message and "3.11" in error.message and "python:3.11-slim" in error.message
    assert error.hint and "python3.11 -m venv" in error.hint and "--base-image python:3.12-slim" in error.hint
    assert not client.api.built
    assert not (context.path / "wheels").exists() or not list((context.path / "wheels").glob("*.whl"))


@pytest.mark.docker
def test_cli_build_with_a_mismatched_host_python_exits_4_naming_both(
    docker_client: Any,
    base_image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(_image, "host_python", lambda: "3.9")
    code = main(["build", str(SALES_SPEC), "--base-image", base_image, "--output", str(tmp_path)])
    err = _flat(capsys.readouterr().err)
    assert code == 4, err
    assert "Python is 3.9" in err and "is 3.11" in err and "python3.11 -m venv" in err


@pytest.mark.docker
def test_a_missing_base_image_fails_at_the_from_step_with_the_log_tail(
    docker_client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["build", str(SALES_SPEC), "--base-image", "nonexistent:1", "--output", str(tmp_path)])
    err = _flat(capsys.readouterr().err)
    assert code == 4, err
    assert "docker build failed at step 2/" in err and "(FROM ${BASE_IMAGE} AS deps)" in err, err
    assert "engine log (tail):" in err and "Step 1/" in err
    assert "'nonexistent:1' is not on this engine" in err


@pytest.mark.docker
def test_a_build_failing_at_a_later_step_names_that_step_with_the_log_tail(
    docker_client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A base with no shell and no Python: FROM and the COPYs pass, `RUN python3 -m venv` fails."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        body = b"an image with no shell and no python\n"
        info = tarfile.TarInfo("README")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    repo, tag = "factory-test/no-python", secrets.token_hex(4)
    docker_client.api.import_image_from_data(data.getvalue(), repository=repo, tag=tag)
    try:
        code = main(["build", str(SALES_SPEC), "--base-image", f"{repo}:{tag}", "--output", str(tmp_path)])
    finally:
        with contextlib.suppress(Exception):
            docker_client.api.remove_image(f"{repo}:{tag}", force=True)
    err = _flat(capsys.readouterr().err)
    assert code == 4, err
    assert "docker build failed at step 5/" in err and "(RUN python3 -m venv /opt/venv" in err, err
    assert "engine log (tail):" in err and "Step 5/" in err and "Step 6/" not in err
    assert "/bin/sh" in err  # the engine's own reason, from the tail
    assert not docker_client.containers.list(all=True, filters={"ancestor": f"{repo}:{tag}"})
