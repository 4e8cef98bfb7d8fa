"""Schemathesis (the pinned CLI, `st run`) against `factory serve` on 127.0.0.1, for every example spec.

Every operation of the OpenAPI document gets the `examples`, `coverage` and `fuzzing` phases with
`EXAMPLES` generated cases each in the fuzzing phase (positive and negative), under the four checks
below. The run must find nothing, and the server's log of the run must hold no traceback: no input
may crash a route, every status and content type a route answers is documented, and every JSON body
(errors included) and every SSE event matches the schema the document publishes.

The model is the scripted one (offline, deterministic), except for specs whose nodes need a model
that answers their tool calls: those get `factory mock-llm`'s server (the OpenAI wire) with a script.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from _server_support import ROOT

from factory.mockllm import MockLLMServer

SPECS = sorted((ROOT / "specs").glob("*.yaml"))
EXAMPLES = 25
"""Generated cases per operation in the fuzzing phase (the coverage phase adds its boundary cases)."""
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
ST = Path(sys.executable).with_name("st")

# Specs whose scripted-model run would fail a node on every turn (a `classify` with no label): a
# model at the wire that answers. support_triage: every message is `other` (no HTTP tool is called).
MODEL_SCRIPTS: dict[str, dict[str, Any]] = {
    "support_triage": {
        "rules": [{"when": {"tool_name": "choose_label"},
                   "tool_calls": [{"name": "choose_label", "arguments": {"label": "other"}}]}],
        "default": {"text": "Our support desk is open on weekdays."},
    },
}


@contextmanager
def _served(spec: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`factory serve SPEC --port 0`; yields its URL and its log file."""
    env = {**os.environ, "FACTORY_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    for name in ("FACTORY_CHECKPOINTER", "FACTORY_MODEL", "FACTORY_TEST_MODE", "OPENAI_BASE_URL"):
        env.pop(name, None)
    with _model(spec, env) as args:
        log = tmp_path / "server.log"
        with log.open("w") as out:
            proc = subprocess.Popen([sys.executable, "-m", "factory", "serve", str(spec), "--port", "0",
                                     "--checkpointer", "memory", *args],
                                    env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = _wait_ready(proc, log)
            yield url, log
        finally:
            proc.terminate()
            proc.wait(15)


@contextmanager
def _model(spec: Path, env: dict[str, str]) -> Iterator[list[str]]:
    script = MODEL_SCRIPTS.get(spec.stem)
    if script is None:
        yield ["--model", "scripted"]
        return
    with MockLLMServer(script) as mock:
        env.update(OPENAI_BASE_URL=mock.base_url, OPENAI_API_KEY="sk-mock")
        yield []


def _wait_ready(proc: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"factory serve exited with {proc.returncode}:\n{log.read_text()}"
        found = re.search(r"on (http://127\.0\.0\.1:\d+)", log.read_text())
        if found:
            try:
                if httpx.get(f"{found[1]}/ready", timeout=2).status_code == 200:
                    return found[1]
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    raise AssertionError(f"factory serve did not become ready:\n{log.read_text()}")


@pytest.mark.parametrize("spec", SPECS, ids=[spec.stem for spec in SPECS])
def test_schemathesis_finds_nothing_and_the_log_holds_no_traceback(spec: Path, tmp_path: Path) -> None:
    with _served(spec, tmp_path) as (url, log):
        run = subprocess.run(
            [str(ST), "run", f"{url}/openapi.json", "--checks", CHECKS, "--max-examples", str(EXAMPLES),
             "--phases", "examples,coverage,fuzzing", "--seed", "20240601", "--workers", "1",
             "--request-timeout", "20", "--no-color"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False,
        )
    report = run.stdout[-12000:] + run.stderr[-3000:]
    assert run.returncode == 0, report
    summary = report[report.find("SUMMARY"):]
    cases = re.search(r"(\d+) generated, (\d+) passed", summary)
    operations = re.search(r"Tested: (\d+)", summary)
    assert cases and operations and cases[1] == cases[2] and int(cases[1]) > 20 * EXAMPLES, summary
    print(f"{spec.stem}: {operations[1]} operations, {cases[1]} cases, all passed")  # shown with -rA
    assert "Schema validation mismatch" not in report, report  # the schemas are as strict as the routes
    server_log = log.read_text()
    assert "Traceback" not in server_log and "unexpected error" not in server_log, server_log[-8000:]
