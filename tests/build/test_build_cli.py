"""`factory build` through the CLI: exit codes and what it prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from build_helpers import SALES_SPEC

from factory.cli import main as _main


def main(argv: list[str]) -> int:
    """The exit code `factory ARGV` ends with (user errors end in SystemExit)."""
    try:
        return _main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_no_docker_writes_the_context_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["build", str(SALES_SPEC), "--no-docker", "--output", str(tmp_path), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["context"] == str(tmp_path / "sales-discovery")
    assert "Dockerfile" in result["files"] and "agent/plan.json" in result["files"]
    assert (tmp_path / "sales-discovery" / "graphs" / "__init__.py").is_file()


def test_an_invalid_spec_exits_3(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec: 1\nname: Not A Label\n")
    assert main(["build", str(bad), "--no-docker", "--output", str(tmp_path)]) == 3


def test_no_engine_exits_4_and_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    code = main(["build", str(SALES_SPEC), "--output", str(tmp_path)])
    assert code == 4
    err = capsys.readouterr().err
    flat = " ".join(err.replace("│", " ").split())
    assert "no Docker engine answers" in flat and "--no-docker" in flat


def test_an_output_folder_that_is_not_a_context_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sales-discovery").mkdir()
    (tmp_path / "sales-discovery" / "notes.txt").write_text("mine")
    assert main(["build", str(SALES_SPEC), "--no-docker", "--output", str(tmp_path)]) == 2
    assert (tmp_path / "sales-discovery" / "notes.txt").read_text() == "mine"
