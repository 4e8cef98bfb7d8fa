"""The pytest plugin: `pytest specs/` collects conversations; the project's own `pytest tests` does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from spec_test_helpers import SPECS, write_mini

FAILING = """\
  - name: fails on purpose
    tags: [smoke]
    script: {route: [chat], chat: ["Nice weather!"]}
    turns:
      - user: Hi
        expect: [{contains: rain}]
  - name: passes
    script: {route: [chat], chat: ["Nice weather!"]}
    turns:
      - user: Hi
        expect: [{contains: weather}]
"""


def pytest_run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=180)


def test_sales_spec_collects_one_item_per_conversation(tmp_path: Path) -> None:
    done = pytest_run(SPECS / "sales_discovery.yaml", "-v", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sales_discovery.yaml::asks for the company when the lead gives nothing PASSED" in done.stdout
    assert "8 passed" in done.stdout


def test_failure_report_is_readable(tmp_path: Path) -> None:
    spec = write_mini(tmp_path, FAILING)
    done = pytest_run(spec, cwd=tmp_path)
    assert done.returncode == 1
    assert "1 failed, 1 passed" in done.stdout
    assert ("conversation 'fails on purpose': 0/1 attempts passed, needs 100%\n\n"
            "fails on purpose (attempt 1), turn 1: 'Hi'\n"
            f"  {spec}:41:18: contains: rain\n"
            "  failed: the reply does not contain 'rain'\n") in done.stdout
    assert "Traceback" not in done.stdout


def test_tags_become_markers(tmp_path: Path) -> None:
    spec = write_mini(tmp_path, FAILING)
    done = pytest_run(spec, "-m", "not smoke", cwd=tmp_path)
    assert done.returncode == 0 and "1 passed, 1 deselected" in done.stdout


def test_folder_argument_collects_specs_but_not_testpaths(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    for folder in ("specs", "tests"):
        (tmp_path / folder).mkdir()
        write_mini(tmp_path / folder)
    (tmp_path / "tests" / "test_plain.py").write_text("def test_ok():\n    pass\n")
    (tmp_path / "specs" / "notes.yaml").write_text("just: data\n")
    assert "2 passed" in pytest_run("specs", cwd=tmp_path).stdout
    assert "1 passed" in pytest_run("tests", cwd=tmp_path).stdout
    assert "1 passed" in pytest_run(cwd=tmp_path).stdout
    assert "3 passed" in pytest_run("tests", "tests/mini.yaml", cwd=tmp_path).stdout


def test_an_invalid_spec_is_a_collection_error_without_traceback(tmp_path: Path) -> None:
    spec = write_mini(tmp_path)
    spec.write_text(spec.read_text().replace("visited: [count, fetch, help]", "visited: [count, fecth, help]"))
    done = pytest_run(spec, cwd=tmp_path)
    assert done.returncode == 2
    assert "visited names unknown node 'fecth'" in done.stdout
