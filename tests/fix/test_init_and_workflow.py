"""`factory init` scaffolds an agent repository; the CI workflow template is a valid GitHub workflow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "agent-ci.yml"


def _factory(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "factory", *args], capture_output=True, text=True, cwd=cwd,
                          env={"FACTORY_MODEL": "scripted", "PATH": "/usr/bin:/bin"}, timeout=300, check=False)


def test_workflow_passes_the_github_schema_offline() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    done = subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_builds_tests_then_fixes_and_opens_a_pull_request() -> None:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["test"]["steps"]
    runs = " ".join(step.get("run", "") for step in steps)
    assert "factory build" in runs and "factory test" in runs and "factory fix" in runs
    fix = next(step for step in steps if "factory fix" in step.get("run", ""))
    assert "OPENAI_API_KEY" in fix["if"] and "failure" in fix["if"]
    assert any(step.get("uses", "").startswith("peter-evans/create-pull-request") for step in steps)
    # the package is not on an index yet: the workflow installs what the repository variable names
    install = next(step for step in steps if step.get("name") == "Install the factory")
    assert 'pip install "$FACTORY_REQUIREMENT"' in install["run"] and "exit 1" in install["run"]


def test_the_template_users_copy_is_the_one_init_writes(tmp_path: Path) -> None:
    done = _factory("init", str(tmp_path / "my-agent"))
    assert done.returncode == 0, done.stderr
    written = tmp_path / "my-agent" / ".github" / "workflows" / "agent-ci.yml"
    assert written.read_text() == WORKFLOW.read_text()


def test_scaffolded_agent_validates_and_its_conversation_passes(tmp_path: Path) -> None:
    assert _factory("init", str(tmp_path / "helpdesk")).returncode == 0
    spec = tmp_path / "helpdesk" / "specs" / "agent.yaml"
    assert spec.read_text().startswith("# yaml-language-server: $schema=./spec.schema.json\n")
    assert "name: helpdesk" in spec.read_text()
    assert _factory("validate", str(spec)).returncode == 0
    tested = _factory("test", str(spec))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_init_refuses_to_overwrite_and_rejects_bad_names(tmp_path: Path) -> None:
    assert _factory("init", str(tmp_path / "a")).returncode == 0
    again = _factory("init", str(tmp_path / "a"))
    assert again.returncode == 2 and "exist already" in again.stderr and "Traceback" not in again.stderr
    bad = _factory("init", str(tmp_path / "b"), "--name", "Bad_Name")
    assert bad.returncode == 2 and "invalid agent name 'Bad_Name'" in bad.stderr
