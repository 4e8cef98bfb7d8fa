"""The generated files pass the tools their formats have: hadolint, kubernetes-validate, compose."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from build_helpers import SALES_SPEC

from factory.build import write_context
from factory.compiler import compile_plan
from factory.language.loader import load_spec

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    loaded = load_spec(SALES_SPEC)
    return write_context(
        loaded, compile_plan(loaded), tmp_path_factory.mktemp("ctx"), with_runtime=False
    ).path


def _tool(name: str) -> str:
    found = BIN / name
    if found.is_file():
        return str(found)
    on_path = shutil.which(name)
    if on_path is None:
        pytest.fail(f"{name} is not installed (it is a dev dependency: pip install -e '.[dev]')")
    return on_path


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_hadolint_passes_the_dockerfile(context: Path) -> None:
    done = _run([_tool("hadolint"), "--failure-threshold", "info", "Dockerfile"], context)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("manifest", ["configmap", "deployment", "hpa", "service"])
def test_kubernetes_validate_passes_the_manifests(context: Path, manifest: str) -> None:
    done = _run([_tool("kubernetes-validate"), "--strict", f"k8s/{manifest}.yaml"], context)
    assert done.returncode == 0, done.stdout + done.stderr


def test_deployment_probes_security_and_secrets(context: Path) -> None:
    deployment = yaml.safe_load((context / "k8s" / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    for var in container["env"]:
        assert "value" not in var, f"{var['name']} has a literal value; settings and secrets go by reference"
    secret_refs = {v["name"] for v in container["env"] if "secretKeyRef" in v.get("valueFrom", {})}
    assert {"OPENAI_API_KEY", "FACTORY_CHECKPOINTER"} <= secret_refs
    # a stop drains: preStop while the Service drops the pod, then serve.grace_s for running turns
    assert container["lifecycle"]["preStop"]["exec"]["command"][-1].startswith("sleep")
    assert pod["terminationGracePeriodSeconds"] >= 30 + 5 + 10
    broker = next(v for v in container["env"] if v["name"] == "FACTORY_BROKER")
    assert broker["valueFrom"]["secretKeyRef"]["optional"] is True
    hpa = yaml.safe_load((context / "k8s" / "hpa.yaml").read_text())
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]


def test_compose_file_is_valid(context: Path) -> None:
    compose = yaml.safe_load((context / "compose.yaml").read_text())
    assert set(compose["services"]) == {"agent", "lb", "redis", "postgres"}
    agent = compose["services"]["agent"]
    assert agent["environment"]["FACTORY_CHECKPOINTER"].startswith("postgresql://")
    assert agent["environment"]["FACTORY_BROKER"] == "redis://redis:6379/0"
    assert agent["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert agent["depends_on"]["redis"]["condition"] == "service_healthy"
    assert agent["deploy"]["replicas"] == 2 and agent["stop_grace_period"] == "40s"
    haproxy = compose["configs"]["haproxy"]["content"]
    assert "option httpchk GET /ready" in haproxy and "server-template agent" in haproxy
    assert "ports" not in agent and compose["services"]["lb"]["ports"] == [f"{p}:{p}" for p in agent["expose"]]
    docker = shutil.which("docker")
    if docker and _run([docker, "compose", "version"], context).returncode == 0:
        env_file = context / ".env"
        env_file.write_text("POSTGRES_PASSWORD=example\n")
        try:
            done = _run([docker, "compose", "-f", "compose.yaml", "config", "--quiet"], context)
        finally:
            env_file.unlink()
    else:  # no compose plugin here: the Compose Specification's JSON Schema
        done = _run(
            [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "compose.yaml"], context
        )
    assert done.returncode == 0, done.stdout + done.stderr
