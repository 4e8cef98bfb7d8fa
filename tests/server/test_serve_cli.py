"""`factory serve SPEC` as a user runs it: a subprocess that answers on the port it was given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from _server_support import ROOT, SALES_SPEC, free_socket


def test_factory_serve_runs_the_spec(tmp_path: Path) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "FACTORY_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("FACTORY_CHECKPOINTER", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "factory", "serve", str(SALES_SPEC), "--port", str(port), "--model", "scripted"],
        env=env,
        cwd=tmp_path,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "factory serve did not become ready"
            time.sleep(0.1)
        body = httpx.post(f"{url}/chat/stream", json={"message": "Hello!"}, timeout=20).text
        assert "event: end" in body
        assert json.loads(body.split("event: metadata\ndata: ")[1].split("\n")[0])["thread_id"]
        assert (tmp_path / "sales-discovery" / "threads.sqlite").exists()  # the spec's SQLite file
    finally:
        proc.terminate()
        proc.wait(10)


def test_factory_serve_rejects_an_invalid_spec(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec: 1\nname: Not A Label\n")
    result = subprocess.run(
        [sys.executable, "-m", "factory", "serve", str(bad)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 3, result.stderr


def _serve(tmp_path: Path, *args: str, checkpointer_env: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FACTORY_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("FACTORY_CHECKPOINTER", None)
    if checkpointer_env:
        env["FACTORY_CHECKPOINTER"] = checkpointer_env
    return subprocess.run(
        [sys.executable, "-m", "factory", "serve", str(SALES_SPEC), "--model", "scripted", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )


def test_user_mistakes_are_messages_with_exit_codes_not_tracebacks(tmp_path: Path) -> None:
    closed = free_socket()
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there: an unreachable Postgres
    busy = free_socket()
    busy.listen()
    try:
        cases = {
            "bogus": (_serve(tmp_path, "--checkpointer", "bogus://x"), 2, "unknown checkpointer"),
            # the flag wins over $FACTORY_CHECKPOINTER (docs/serving.md): it is the one checked
            "flag_wins": (
                _serve(tmp_path, "--checkpointer", "bogus://x", checkpointer_env="memory"),
                2,
                "unknown checkpointer",
            ),
            "postgres": (
                _serve(tmp_path, "--checkpointer", f"postgresql://u:s3cret@127.0.0.1:{closed_port}/db"),
                4,
                "cannot open the checkpointer",
            ),
            "port_range": (_serve(tmp_path, "--port", "99999"), 2, "65535"),
            "port_in_use": (_serve(tmp_path, "--port", str(busy.getsockname()[1])), 4, "cannot listen"),
        }
    finally:
        busy.close()
    for name, (result, code, needle) in cases.items():
        assert result.returncode == code, (name, result.stderr)
        assert needle in result.stderr and "Traceback" not in result.stderr, (name, result.stderr)
    assert "s3cret" not in cases["postgres"][0].stderr


def test_the_image_entrypoint_reports_a_bad_checkpointer_without_a_traceback(tmp_path: Path) -> None:
    from factory.compiler import compile_plan
    from factory.language.loader import load_spec

    root = Path(__file__).resolve().parents[2]
    plan = compile_plan(load_spec(root / "specs" / "sales_discovery.yaml"))
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    for url, code, text in [("bogus://x", 2, "unknown checkpointer 'bogus://'"),
                            ("postgres://nobody@127.0.0.1:1/x", 4, "cannot open the checkpointer ...127.0.0.1:1/x")]:
        done = subprocess.run([sys.executable, "-m", "graphs.server", "--plan", str(tmp_path / "plan.json"),
                                "--base-dir", str(root / "specs"), "--checkpointer", url],
                               capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == code and text in done.stderr and "Traceback" not in done.stderr
