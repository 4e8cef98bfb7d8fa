"""LangGraph's own server (`langgraph dev`) on a generated build context, for the interop tests.

`langgraph dev` comes from `.venv-langgraph` (made by `scripts/langgraph-venv.sh`, never the
project's venv: langgraph-api needs other versions). Without it the tests skip, unless
FACTORY_REQUIRE_LANGGRAPH_DEV=1 (CI): then the script is run to make it, and a failure fails.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from real_parts import unavailable

from factory.runners import free_port

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
SCRIPT = ROOT / "scripts" / "langgraph-venv.sh"
REQUIRE = "FACTORY_REQUIRE_LANGGRAPH_DEV"


def langgraph_venv() -> Path:
    """The venv holding `langgraph`: refreshed when present (fast), made under FACTORY_REQUIRE_LANGGRAPH_DEV=1."""
    venv = Path(os.environ.get("FACTORY_LANGGRAPH_VENV") or ROOT / ".venv-langgraph")
    required = os.environ.get(REQUIRE) == "1"
    if not (venv / "bin" / "langgraph").is_file() and not required:
        unavailable(REQUIRE, f"no {venv} (make it with: bash scripts/langgraph-venv.sh)")
    done = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=1800,
                          check=False)
    if done.returncode != 0:
        unavailable(REQUIRE, f"scripts/langgraph-venv.sh failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])



def build_context(spec: Path, output: Path) -> Path:
    """`factory build SPEC --no-docker` into `output`; the context folder (runtime copied in)."""
    from factory.build import write_context
    from factory.compiler import compile_plan
    from factory.language.loader import load_spec

    loaded = load_spec(spec)
    return write_context(loaded, compile_plan(loaded), output).path


@contextmanager
def langgraph_dev(venv: Path, context: Path, *, test_mode: bool = True, **env: str) -> Iterator[str]:
    """`langgraph dev` serving `context` on a free 127.0.0.1 port (scripted model); yields its URL."""
    port = free_port()
    variables = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(context), "FACTORY_MODEL": "scripted",
                 "LANGGRAPH_CLI_NO_ANALYTICS": "1", "PYTHONUNBUFFERED": "1", **env}
    if test_mode:
        variables["FACTORY_TEST_MODE"] = "1"
    log = context / f"langgraph-dev-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(venv / "bin" / "langgraph"), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1",
             "--port", str(port)], cwd=context, env=variables, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"langgraph dev exited with {process.returncode}:\n{log.read_text()[-4000:]}")
            try:
                if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"langgraph dev did not answer within 120 s:\n{log.read_text()[-4000:]}")
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
