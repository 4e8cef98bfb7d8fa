"""How verbs report: `--json -` / `--junit-xml -` write to standard output (the rest goes to standard
error), and a spec's problems end with a pointer to the language reference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SALES = str(ROOT / "specs" / "sales_discovery.yaml")


def factory(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FACTORY_MODEL": "scripted", "NO_COLOR": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "factory", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env, check=False)


def test_json_dash_writes_the_results_to_stdout(tmp_path: Path) -> None:
    done = factory("test", SALES, "-k", "asks for the company", "--json", "-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert results["passed"] is True
    assert [r["name"] for r in results["reports"][0]["results"]] == ["asks for the company when the lead gives nothing"]
    assert "1 passed" in done.stderr  # the summary moved to standard error
    assert not (tmp_path / "-").exists()


def test_junit_dash_writes_xml_to_stdout(tmp_path: Path) -> None:
    done = factory("test", SALES, "-k", "asks for the company", "--junit-xml", "-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    suites = ET.fromstring(done.stdout)
    assert suites.tag == "testsuites" and suites[0].get("tests") == "1"
    assert not (tmp_path / "-").exists()


def test_both_reports_on_stdout_is_a_usage_error(tmp_path: Path) -> None:
    done = factory("test", SALES, "--json", "-", "--junit-xml", "-", cwd=tmp_path)
    assert done.returncode == 2
    assert "both write to standard output" in done.stderr and "Traceback" not in done.stderr


def test_a_report_file_is_still_a_file(tmp_path: Path) -> None:
    done = factory("test", SALES, "-k", "asks for the company", "--json", "out.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out.json").read_text())["passed"] is True


def test_spec_problems_end_with_the_language_reference(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec: 1\nname: x\nnodes: {a: {kind: reply}}\nedges: [{from: start, to: a}, {from: a, to: end}]\n")
    for verb in ("validate", "test"):
        done = factory(verb, str(bad), cwd=tmp_path)
        assert done.returncode == 3, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("1 problem(s) in 1 spec(s)") and "docs/language.md" in last, done.stderr
