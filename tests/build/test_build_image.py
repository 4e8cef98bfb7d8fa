"""The image on a real engine: build the sales agent, run it, stream a conversation, non-root, no
secret anywhere in the image, prompt-only rebuild (only the last layer changes; timed, recorded in
test-artifacts/build-timings.json, not asserted), and nothing left behind."""

from __future__ import annotations

import contextlib
import io
import json
import secrets
import shutil
import tarfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from build_helpers import ROOT, SALES_SPEC
from docker.errors import DockerException
from httpx_sse import connect_sse

from factory.build import build_image, write_context
from factory.compiler import compile_plan
from factory.language.loader import load_spec
from factory.runners._common import LogBuffer, wait_ready

pytestmark = pytest.mark.docker

GREETING = "Hi there, I'm Sam from Flowly! Which company are you with?"
TIMINGS = ROOT / "test-artifacts" / "build-timings.json"
SECRET_FILES = (".env", "pip.conf", ".netrc", ".pypirc", ".git-credentials", "id_rsa", "id_ed25519")
"""File names that hold credentials; `*.pem`/`*.key` count when they hold a private key (the base's
CA bundle and certifi's cacert.pem are public certificates)."""


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    """The sales spec in a folder of its own, so the test may edit its prompt."""
    folder = tmp_path / "spec"
    shutil.copytree(SALES_SPEC.parent, folder, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    return folder / SALES_SPEC.name


@pytest.fixture
def created(docker_client: Any) -> Iterator[dict[str, list[str]]]:
    """Containers and tags the test makes; removed whatever happens."""
    made: dict[str, list[str]] = {"containers": [], "images": []}
    yield made
    for cid in made["containers"]:
        with contextlib.suppress(DockerException):  # already gone
            docker_client.api.remove_container(cid, force=True)
    for tag in reversed(made["images"]):
        # never forced: an id shared with a tag this test did not make stays
        with contextlib.suppress(DockerException):
            docker_client.api.remove_image(tag)


class _ChunkReader(io.RawIOBase):
    """A file over an iterator of byte chunks (what `container.export()` streams)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._rest:
            try:
                self._rest = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


def _scan_filesystem(chunks: Iterable[bytes], needle: bytes) -> tuple[list[str], list[str], int]:
    """(credential-like files, files containing `needle`, files scanned) over an exported filesystem."""
    named: list[str] = []
    holding: list[str] = []
    scanned = 0
    stream = io.BufferedReader(_ChunkReader(chunks), buffer_size=1 << 20)
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            scanned += 1
            base = member.name.rsplit("/", 1)[-1]
            handle = tar.extractfile(member)
            data = handle.read() if handle else b""
            if base in SECRET_FILES or (base.endswith((".pem", ".key")) and b"PRIVATE KEY" in data):
                named.append(member.name)
            if needle in data:
                holding.append(member.name)
    return named, holding, scanned


def _record(record_property: Callable[[str, object], None], **timings: object) -> None:
    """Into the JUnit XML (record_property) and test-artifacts/build-timings.json (pytest -q hides prints)."""
    for key, value in timings.items():
        record_property(key, value)
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    TIMINGS.write_text(json.dumps(timings, indent=2, sort_keys=True) + "\n")


def _chat(base_url: str) -> list[tuple[str, dict[str, Any]]]:
    body = {"message": "Hello!", "script": {"understand": [{}], "ask_company": [GREETING]}}
    with (
        httpx.Client(timeout=60) as client,
        connect_sse(client, "POST", f"{base_url}/chat/stream", json=body) as es,
    ):
        return [(event.event, json.loads(event.data)) for event in es.iter_sse()]


def test_build_run_stream_rebuild(
    docker_client: Any,
    base_image: str,
    spec_copy: Path,
    tmp_path: Path,
    created: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
) -> None:
    tag = f"factory-test/sales-discovery:{secrets.token_hex(4)}"
    # a fake secret in the host environment and in credential files beside the spec: none may reach the image
    secret = f"sk-test-{secrets.token_hex(16)}"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    (spec_copy.parent / ".env").write_text(f"OPENAI_API_KEY={secret}\n")
    (spec_copy.parent / "client.pem").write_text(f"-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n")
    (spec_copy.parent / "pip.conf").write_text(f"[global]\nindex-url = https://user:{secret}@pypi.example/simple\n")
    loaded = load_spec(spec_copy)
    context = write_context(loaded, compile_plan(loaded), tmp_path / "out", tag=tag)
    created["images"].append(tag)
    cold = build_image(context, tag=tag, base_image=base_image, client=docker_client)
    print(
        f"\ncold build: {cold.seconds:.1f} s ({cold.cached_steps}/{cold.steps} steps cached), "
        f"image {cold.size / 1e6:.1f} MB, {((cold.size_over_base or 0) / 1e6):.1f} MB over {base_image}"
    )

    config = docker_client.api.inspect_image(tag)["Config"]
    assert config["User"] and config["User"].split(":")[0] not in ("0", "root")
    assert config["Healthcheck"]["Test"][0] == "CMD"
    history = json.dumps(docker_client.api.history(tag))
    assert "OPENAI_API_KEY=" not in history and "sk-" not in history
    assert secret not in json.dumps(docker_client.api.inspect_image(tag))

    container = docker_client.containers.run(
        tag,
        command=["--test-mode", "--model", "scripted"],
        detach=True,
        ports={"8000/tcp": ("127.0.0.1", None)},
    )
    created["containers"].append(container.id)
    container.reload()
    port = container.attrs["NetworkSettings"]["Ports"]["8000/tcp"][0]["HostPort"]
    base_url = f"http://127.0.0.1:{port}"
    logs = LogBuffer()
    logs.follow(container.logs(stream=True, follow=True))

    def alive() -> bool:
        container.reload()
        return container.status in ("created", "running")

    wait_ready(base_url, alive=alive, logs=logs, timeout=120, what="test container")
    events = _chat(base_url)
    names = [name for name, _ in events]
    assert names[0] == "metadata" and names[-1] == "end", names
    assert names.count("token") > 1, "the reply must stream token by token"
    assert events[-1][1]["reply"] == GREETING
    exit_code, output = container.exec_run(["id", "-u"])
    assert exit_code == 0 and output.decode().strip() != "0"
    assert httpx.get(f"{base_url}/health", timeout=5).status_code == 200

    # the image's whole filesystem: no credential files, nowhere the secret's text
    named, holding, scanned = _scan_filesystem(container.export(), secret.encode())
    assert scanned > 1000, f"only {scanned} files exported"
    assert not named, f"credential-like files in the image: {named}"
    assert not holding, f"the host's secret is in: {holding}"
    cold_layers = docker_client.api.inspect_image(cold.image_id)["RootFS"]["Layers"]

    # a prompt-only change: only the last layer is rebuilt
    prompts = spec_copy.parent / "prompts" / "sales_persona.md"
    prompts.write_text(prompts.read_text() + "\nAlways sign off as Sam.\n")
    loaded = load_spec(spec_copy)
    write_context(loaded, compile_plan(loaded), tmp_path / "out", tag=tag)
    started = time.perf_counter()
    again = build_image(context, tag=tag, base_image=base_image, client=docker_client)
    took = time.perf_counter() - started
    print(f"prompt-only rebuild: {took:.2f} s ({again.cached_steps}/{again.steps} steps cached)")
    _record(
        record_property,
        base_image=base_image,
        cold_build_s=round(cold.seconds, 2),
        prompt_only_rebuild_s=round(took, 3),
        steps=again.steps,
        cached_steps=again.cached_steps,
        image_mb=round(cold.size / 1e6, 1),
    )
    assert again.image_id != cold.image_id
    created["images"].insert(0, cold.image_id)
    layers = docker_client.api.inspect_image(again.image_id)["RootFS"]["Layers"]
    assert len(layers) == len(cold_layers), "a prompt-only change must not add or drop layers"
    assert layers[:-1] == cold_layers[:-1], "only the last layer (COPY agent/) may change"
    assert layers[-1] != cold_layers[-1], "the agent layer holds the prompt, so it must change"
