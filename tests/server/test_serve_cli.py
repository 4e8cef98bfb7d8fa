"""`factory serve SPEC` as a user runs it: a subprocess that answers on the port it was given."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from _server_support import ROOT, SALES_SPEC, free_socket
from served import wait_ready


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
        wait_ready(url, proc, what="factory serve")
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


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "FACTORY_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT), **extra}
    for name in ("FACTORY_CHECKPOINTER", "FACTORY_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        if name not in extra:
            env.pop(name, None)
    return env


def test_serve_without_the_model_key_is_one_message_and_exit_2(tmp_path: Path) -> None:
    """The spec's models need $OPENAI_API_KEY: the pre-flight says so before uvicorn starts."""
    served = subprocess.run([sys.executable, "-m", "factory", "serve", str(SALES_SPEC), "--port", "0"],
                            capture_output=True, text=True, env=_env(tmp_path), cwd=tmp_path, timeout=60)
    from factory.compiler import compile_plan
    from factory.language.loader import load_spec

    (tmp_path / "plan.json").write_text(json.dumps(compile_plan(load_spec(SALES_SPEC))))
    image = subprocess.run([sys.executable, "-m", "graphs.server", "--plan", str(tmp_path / "plan.json"),
                            "--base-dir", str(SALES_SPEC.parent), "--port", "0"],
                           capture_output=True, text=True, env=_env(tmp_path), timeout=60)
    for done in (served, image):
        text = " ".join(" ".join(line.strip(" │╭╮╰╯─").split()) for line in done.stderr.splitlines())  # unboxed
        assert done.returncode == 2, done.stderr
        assert "model 'main' of 'sales-discovery' (nodes understand, ask_company" in text, done.stderr
        assert "$OPENAI_API_KEY" in text and "--model scripted" in text, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 10, done.stderr


def _url_once_ready(proc: subprocess.Popen[str]) -> str:
    """The URL the server printed (`--port 0` picks the port), once `/ready` answers there."""
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    for line in proc.stderr:
        found = re.search(r"on (http://127\.0\.0\.1:(\d+))", line)
        if found:
            assert found[2] != "0"
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{found[1]}/ready", timeout=1).status_code == 200:
                        return found[1]
                except httpx.HTTPError:
                    time.sleep(0.1)
        assert time.monotonic() < deadline, "no URL printed"
    raise AssertionError(f"the server exited ({proc.poll()}) without printing its URL")


def test_port_0_picks_a_free_port_and_prints_the_real_url(tmp_path: Path) -> None:
    from factory.compiler import compile_plan
    from factory.language.loader import load_spec

    (tmp_path / "plan.json").write_text(json.dumps(compile_plan(load_spec(SALES_SPEC))))
    commands = [
        [sys.executable, "-m", "factory", "serve", str(SALES_SPEC), "--port", "0", "--model", "scripted"],
        [sys.executable, "-m", "graphs.server", "--plan", str(tmp_path / "plan.json"), "--base-dir",
         str(SALES_SPEC.parent), "--port", "0", "--model", "scripted"],
    ]
    for command in commands:
        proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                env=_env(tmp_path), cwd=tmp_path)
        try:
            url = _url_once_ready(proc)
            body = httpx.post(f"{url}/chat/stream", json={"message": "Hello!"}, timeout=20).text
        finally:
            proc.terminate()
            proc.wait(10)
        assert "event: end" in body, (command, body)
