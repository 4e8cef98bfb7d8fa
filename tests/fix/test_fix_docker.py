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


def test_fix_loop_with_the_docker_runner(faulty_spec: Path, base_image: str) -> None:
    env = {**os.environ, "FACTORY_MODEL": "scripted", "FACTORY_BASE_IMAGE": base_image, "OPENAI_API_KEY": "mock"}
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
