"""The local-model tier: a real llama.cpp server on SmolLM2-135M, started once and shared.

`ensure_local_server()` starts the server in the background or reuses the running one (a state file
and a lock under the cache folder), so the pytest-xdist workers and the CLI processes the tests start
all talk to one server. Without the `local` extra the tier skips, unless FACTORY_REQUIRE_LOCAL_MODEL=1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from local_model_support import ROOT, CliRunner
from real_parts import unavailable


@pytest.fixture(scope="session")
def local_server() -> object:
    from graphs.models.local import INSTALL_HINT, ensure_local_server, missing_dependencies

    missing = missing_dependencies()
    if missing:
        reason = f"the local model needs {', '.join(missing)} ({INSTALL_HINT})"
        unavailable("FACTORY_REQUIRE_LOCAL_MODEL", reason)
    return ensure_local_server()


@pytest.fixture
def factory(local_server: object, tmp_path: Path) -> CliRunner:
    """`factory("run", SPEC, ...)`: the CLI in a subprocess, as a user runs it."""

    def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, PYTHONPATH=str(ROOT), FACTORY_DATA_DIR=str(tmp_path / "data"), NO_COLOR="1",
                   COLUMNS="200")
        env.pop("FACTORY_MODEL", None)
        command = [sys.executable, "-c", "import sys; from factory.cli import main; sys.exit(main())", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path,
                              check=False)

    return run
