"""The fix loop with `--runner docker` on the real engine: each candidate spec is built into an
image, started, and its conversations run over SSE (one scenario: the seeded budget-route fault)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fix_helpers import BAD_WHEN, OUT_OF_BOUNDS, RIGHT

from factory.mockllm import MockLLMServer

pytestmark = pytest.mark.docker
LOCAL_BASE = "factory-base:bookworm"


def _docker_base_image() -> str:
    """The base image to build on, or skip (fail under FACTORY_REQUIRE_DOCKER=1) without an engine."""
    from factory.build import connect, engine_available

    problem = None
    if not engine_available():
        problem = "no Docker engine answers (run: eval \"$(bash docker/get-engine.sh | tail -1)\")"
    else:
        names = {tag for image in connect().images.list() for tag in image.tags}
        wanted = os.environ.get("FACTORY_BASE_IMAGE") or LOCAL_BASE
        if wanted in names or "python:3.11-slim" in names:
            return wanted if wanted in names else "python:3.11-slim"
        problem = f"no base image {wanted!r} (run: bash docker/get-base-image.sh)"
    if os.environ.get("FACTORY_REQUIRE_DOCKER") == "1":
        pytest.fail(f"FACTORY_REQUIRE_DOCKER=1 but {problem}")
    pytest.skip(problem)


def test_fix_loop_with_the_docker_runner(faulty_spec: Path) -> None:
    base = _docker_base_image()
    env = {**os.environ, "FACTORY_MODEL": "scripted", "FACTORY_BASE_IMAGE": base, "OPENAI_API_KEY": "mock"}
    with MockLLMServer({"queue": [OUT_OF_BOUNDS, RIGHT]}) as server:
        env["OPENAI_BASE_URL"] = server.base_url
        result = subprocess.run([sys.executable, "-m", "factory", "fix", str(faulty_spec), "--runner", "docker",
                                 "--report", str(faulty_spec.parent / "report")],
                                capture_output=True, text=True, env=env, timeout=1800, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((faulty_spec.parent / "report.json").read_text())
    assert [a["verdict"] for a in report["attempts"]] == ["rejected", "kept"]
    assert report["green"] and report["passed_before"] < report["passed_after"] == report["total"]
    assert BAD_WHEN not in faulty_spec.read_text()
