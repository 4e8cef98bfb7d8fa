"""`factory fix agent.yaml` run from the spec's own folder: a bare file name works like any path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fix_helpers import BAD_WHEN, RIGHT, ROOT

from factory.mockllm import MockLLMServer


def test_fix_with_a_bare_file_name_from_the_specs_folder(faulty_spec: Path) -> None:
    env = {**os.environ, "OPENAI_API_KEY": "mock", "FACTORY_MODEL": "scripted",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with MockLLMServer({"queue": [RIGHT]}) as server:
        env["OPENAI_BASE_URL"] = server.base_url
        result = subprocess.run([sys.executable, "-m", "factory", "fix", faulty_spec.name, "--runner", "inprocess"],
                                cwd=faulty_spec.parent, capture_output=True, text=True, env=env, timeout=300,
                                check=False)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    assert BAD_WHEN not in faulty_spec.read_text()
    assert 'when: "state.stage == \\"budget\\""' in faulty_spec.read_text()
