"""`factory test --target docker` and `--target local` give the same verdicts on every example spec
that has conversations (through the CLI, `--json` for both)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from build_helpers import ROOT

SPECS = ("sales_discovery", "support_triage", "onboarding", "onboarding_address", "weather_agent")


def _run(target: str, out: Path, base_image: str | None = None) -> tuple[int, dict[str, Any], str]:
    env = {**os.environ, "FACTORY_MODEL": "scripted", "COLUMNS": "200"}
    if base_image:
        env["FACTORY_BASE_IMAGE"] = base_image
    cmd = [sys.executable, "-m", "factory", "test", *(f"specs/{s}.yaml" for s in SPECS), "--target", target]
    done = subprocess.run(
        [*cmd, "--json", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    log = done.stdout + done.stderr
    assert out.is_file(), f"factory test --target {target} wrote no JSON (exit {done.returncode}):\n{log[-3000:]}"
    return done.returncode, json.loads(out.read_text()), log


def _verdicts(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per conversation: the verdict, each attempt's verdict, and what failed (not timings or thread ids)."""
    return {
        r["name"]: {
            "passed": r["passed"],
            "attempts": [a["passed"] for a in r["attempts"]],
            "failures": [
                sorted(json.dumps(f, sort_keys=True, default=str) for f in a["failures"]) for a in r["attempts"]
            ],
        }
        for r in report["results"]
    }


def _by_spec(data: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    return {Path(r["spec"]).stem: _verdicts(r) for r in data["reports"]}


def test_the_example_specs_are_the_ones_with_tests() -> None:
    with_tests = sorted(p.stem for p in (ROOT / "specs").glob("*.yaml") if "\ntests:" in p.read_text())
    assert with_tests == sorted(SPECS)


@pytest.mark.docker
def test_docker_and_local_targets_give_the_same_verdicts(
    docker_client: Any, base_image: str, tmp_path: Path
) -> None:
    local_code, local, local_log = _run("local", tmp_path / "local.json")
    docker_code, docker, docker_log = _run("docker", tmp_path / "docker.json", base_image)
    # `target` reads e.g. "docker (http://127.0.0.1:PORT)"
    assert {r["target"].split()[0] for r in local["reports"]} == {"local"}, local_log[-2000:]
    assert {r["target"].split()[0] for r in docker["reports"]} == {"docker"}, docker_log[-2000:]
    local_verdicts, docker_verdicts = _by_spec(local), _by_spec(docker)
    assert sorted(local_verdicts) == sorted(SPECS), local_log[-2000:]
    assert all(local_verdicts[s] for s in SPECS), "every spec has conversations"
    for spec in SPECS:
        assert docker_verdicts.get(spec) == local_verdicts[spec], (spec, docker_log[-3000:])
    assert docker_code == local_code
    assert docker["passed"] == local["passed"]
