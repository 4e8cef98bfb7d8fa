"""`factory local-llm`: foreground serving, start-or-reuse through the state file, a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from local_model_support import ROOT


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), FACTORY_CACHE_DIR=str(cache), NO_COLOR="1", COLUMNS="200")
    env.pop("FACTORY_MODEL", None)
    return env


def _factory(cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "import sys; from factory.cli import main; sys.exit(main())", *args]
    return subprocess.run(command, capture_output=True, text=True, env=_env(cache), timeout=180, check=False)


@pytest.fixture
def cache(local_server: object, tmp_path: Path) -> Path:
    """A cache folder of its own: this test's server is not the session's shared one."""
    return tmp_path / "cache"


def test_foreground_server_is_reused_then_stops_cleanly_on_sigterm(cache: Path) -> None:
    command = [sys.executable, "-c", "import sys; from factory.cli import main; sys.exit(main())", "local-llm"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(cache))
    try:
        line = ""
        deadline = time.monotonic() + 120
        while "serving" not in line and time.monotonic() < deadline:
            line = server.stdout.readline() if server.stdout else ""
            assert line or server.poll() is None, server.stderr.read() if server.stderr else ""
        assert "local-llm: serving http://127.0.0.1:" in line
        url = line.split("serving ", 1)[1].split()[0]

        reused = _factory(cache, "local-llm", "--detach")  # start-or-reuse finds the foreground one
        assert reused.returncode == 0, reused.stderr
        assert f"reusing {url} (pid {server.pid};" in reused.stdout
        status = _factory(cache, "local-llm", "--status")
        assert status.returncode == 0 and url in status.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "local-llm: stopped" in out and "Traceback" not in err
    assert not list(cache.glob("*.json"))  # the state file went with the server
    after = _factory(cache, "local-llm", "--status")
    assert after.returncode == 5 and "none running" in after.stdout


def test_a_missing_model_file_is_a_usage_error(cache: Path) -> None:
    done = _factory(cache, "local-llm", "--model-path", str(cache / "nope.gguf"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "nope.gguf" in done.stderr and "does not exist" in done.stderr and "Traceback" not in done.stderr


def test_processes_starting_at_once_share_one_server(cache: Path) -> None:
    """What the xdist workers do: several processes ask at once; one starts the server, the others reuse it."""
    code = "from graphs.models.local import ensure_local_server as e; s = e(); print(s.pid, s.reused)"
    started = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=_env(cache)) for _ in range(3)]
    answers = [process.communicate(timeout=180) for process in started]
    try:
        assert all(process.returncode == 0 for process in started), answers
        seen = [out.split() for out, _ in answers]
        assert len({pid for pid, _ in seen}) == 1, seen
        assert sorted(reused for _, reused in seen) == ["False", "True", "True"], seen
    finally:
        stopped = _factory(cache, "local-llm", "--stop")
    assert stopped.returncode == 0 and "stopped pid" in stopped.stdout, stopped.stdout + stopped.stderr
