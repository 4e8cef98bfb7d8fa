"""The local runner: the image's entrypoint (`python -m graphs.server`) as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from factory.build import write_context
from factory.language.loader import LoadedSpec
from factory.runners._common import LogBuffer, Runner, free_port, wait_ready
from graphs.plan import Plan

__all__ = ["run_local"]


def server_args(*, test_mode: bool, model_override: str | None) -> list[str]:
    """Arguments both runners append to the entrypoint."""
    args = ["--test-mode"] if test_mode else []
    if model_override:
        args += ["--model", model_override]
    return args


@contextmanager
def run_local(
    loaded: LoadedSpec,
    plan: Plan,
    *,
    test_mode: bool,
    model_override: str | None,
    env: Mapping[str, str] | None,
    ready_timeout: float,
    on_log: Callable[[str], None] | None,
) -> Iterator[Runner]:
    """Write the context to a temporary folder, start the server on a free port, stop it after."""
    import graphs

    with tempfile.TemporaryDirectory(prefix="factory-local-") as tmp:
        context = write_context(loaded, plan, Path(tmp), with_runtime=False)
        port = free_port()
        runtime_root = str(Path(graphs.__file__).resolve().parent.parent)
        child_env = {**os.environ, **(env or {})}
        child_env["PYTHONPATH"] = os.pathsep.join(p for p in (runtime_root, child_env.get("PYTHONPATH")) if p)
        child_env.setdefault("PYTHONUNBUFFERED", "1")
        cmd = [
            sys.executable,
            "-m",
            "graphs.server",
            "--plan",
            str(context.plan_path),
            "--base-dir",
            str(context.agent_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *server_args(test_mode=test_mode, model_override=model_override),
        ]
        logs = LogBuffer(on_line=on_log)
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=child_env,
            cwd=str(context.agent_dir),
            start_new_session=True,
        )
        assert proc.stdout is not None
        logs.follow(proc.stdout)
        runner = Runner(
            kind="local",
            base_url=f"http://127.0.0.1:{port}",
            name=context.name,
            detail=f"pid {proc.pid}",
            _logs=logs,
        )
        try:
            wait_ready(
                runner.base_url,
                alive=lambda: proc.poll() is None,
                logs=logs,
                timeout=ready_timeout,
                what=f"local, pid {proc.pid}",
            )
            yield runner
        finally:
            _stop(proc)
            logs.join()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc.stdout:
        proc.stdout.close()
