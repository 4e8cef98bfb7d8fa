"""`factory validate` as a user runs it: a fresh process, exit codes, stderr lines, `--json`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE = """\
spec: 1
name: demo
models:
  main: {provider: scripted}
state:
  topic: {type: string}
prompts:
  hello: "Talk about {{ topic }}"
nodes:
  greet: {kind: reply, prompt: hello}
edges:
  - {from: start, to: greet}
  - {from: greet, to: end}
"""


def factory(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "factory", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


def test_validate_bad_spec_exits_3_with_positions_on_stderr(tmp_path: Path) -> None:
    # A long folder name: the `file:line:col: message` line must never be wrapped or cropped.
    folder = tmp_path / ("a-rather-long-folder-name-" * 4)
    folder.mkdir()
    bad = folder / "bad.yaml"
    bad.write_text(BASE.replace("  - {from: greet, to: end}", "  - {from: greet, to: bye}"))
    result = factory("validate", str(bad))
    assert result.returncode == 3, result.stderr
    assert f"{bad}:13:23: edge to unknown node 'bye'" in result.stderr
    assert f"{bad}:10:3: `end` cannot be reached from node 'greet'" in result.stderr
    assert "fix: use `end` or one of ['greet']" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_validate_good_spec_exits_0() -> None:
    result = factory("validate", "specs/sales_discovery.yaml")
    assert result.returncode == 0, result.stderr
    assert "ok specs/sales_discovery.yaml" in result.stdout


def test_validate_json_is_parseable(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec: 1\nname: a\nname: b\n")
    result = factory("validate", "--json", str(bad), "specs/sales_discovery.yaml")
    assert result.returncode == 3
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["issues"] == [{
        "file": str(bad), "line": 3, "column": 1, "message": "duplicate key 'name' (first defined at line 2)",
        "node": None, "fix": "remove one of the two 'name' entries",
    }]


def test_validate_json_ok() -> None:
    result = factory("validate", "--json", "specs/sales_discovery.yaml")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"ok": True, "issues": []}


def test_validate_missing_file_is_clear(tmp_path: Path) -> None:
    result = factory("validate", str(tmp_path / "nope.yaml"))
    assert result.returncode in (2, 3)
    assert "nope.yaml" in result.stderr
    assert "No such file" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_validate_binary_file_has_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    result = factory("validate", str(bad))
    assert result.returncode == 3
    assert f"{bad}:3:1: the file holds binary data" in result.stderr
    assert "Traceback" not in result.stderr
