"""`factory init`'s spec: block style (no `{...}` a comma could cut), it validates, a `.gitignore`
keeps run data out of git, and the output points to the language reference."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _init(target: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "factory", "init", str(target)], capture_output=True, text=True,
                          timeout=120, env=env, check=False)


def test_init_writes_a_block_style_spec_that_validates(tmp_path: Path) -> None:
    done = _init(tmp_path / "desk")
    assert done.returncode == 0, done.stderr
    spec = tmp_path / "desk" / "specs" / "agent.yaml"
    yaml_lines = [line for line in spec.read_text().splitlines() if not line.lstrip().startswith("#")]
    flow = [line for line in yaml_lines if ": {" in line or line.rstrip().endswith("{") or ": [" in line]
    assert flow == []
    from factory.language import load_spec

    loaded = load_spec(spec)
    assert loaded.spec.name == "desk" and set(loaded.spec.nodes) == {"understand", "answer"}


def test_init_writes_a_gitignore_for_run_data(tmp_path: Path) -> None:
    assert _init(tmp_path / "desk").returncode == 0
    ignored = (tmp_path / "desk" / ".gitignore").read_text().splitlines()
    assert ".factory/" in ignored and "*.sqlite" in ignored and "*.sqlite-*" in ignored


def test_init_points_to_the_language_reference(tmp_path: Path) -> None:
    done = _init(tmp_path / "desk")
    assert "docs/language.md" in done.stdout
    assert (ROOT / "docs" / "language.md").is_file()
