"""A spec's python code comes from its own folder, under names private to that folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SPEC = """spec: 1
name: NAME
models: {main: {provider: scripted}}
state: {res: {type: string}}
tools:
  who: {description: Who am I., python: "MODULE:who"}
nodes:
  ask: {kind: tool, tool: who, into: res}
edges:
  - {from: start, to: ask}
  - {from: ask, to: end}
tests:
  - name: the tool of this folder answers
    turns:
      - user: hi
        expect:
          - state: {res: from-NAME}
"""


def _spec(folder: Path, name: str, module: str) -> Path:
    folder.mkdir()
    (folder / f"{module}.py").write_text(f"def who():\n    return 'from-{name}'\n")
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.replace("NAME", name).replace("MODULE", module))
    return spec


def _factory(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "factory", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_two_specs_with_the_same_module_name_keep_their_own_code(tmp_path: Path) -> None:
    first, second = _spec(tmp_path / "a", "a", "tools"), _spec(tmp_path / "b", "b", "tools")
    done = _factory("test", str(first), str(second))
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_module_named_like_the_standard_library_is_the_spec_s_own(tmp_path: Path) -> None:
    spec = _spec(tmp_path / "c", "c", "uuid")
    done = _factory("test", str(spec))
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_module_that_fails_to_import_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    spec = _spec(tmp_path / "d", "d", "broken")
    (tmp_path / "d" / "broken.py").write_text("import not_installed_anywhere\n\ndef who():\n    return 'x'\n")
    done = _factory("run", str(spec), "hi", "--model", "scripted")
    assert done.returncode == 4
    text = " ".join(re.sub("[│╭╮╰╯─]", " ", done.stderr).split())  # the error panel wraps lines
    assert "tool 'who' of 'd': importing 'broken' (broken.py) failed: ModuleNotFoundError" in text
    assert "Traceback" not in done.stderr
