"""A spec runs only its own code: `python:` tools and nodes must name modules inside its folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.errors import SpecError
from factory.language.loader import load_spec

SPEC = """spec: 1
name: code
models: {main: {provider: scripted}}
state: {out: {type: string}}
tools:
  run: {description: Runs., python: TOOL_REF}
nodes:
  call: {kind: tool, tool: run, into: out}
  hatch: {kind: python, function: NODE_REF}
edges:
  - {from: start, to: call}
  - {from: call, to: hatch}
  - {from: hatch, to: end}
"""


def _write(tmp_path: Path, tool_ref: str, node_ref: str) -> Path:
    (tmp_path / "mine.py").write_text("def run():\n    return 'ok'\n\ndef hatch(state):\n    return {}\n")
    spec = tmp_path / "code.yaml"
    spec.write_text(SPEC.replace("TOOL_REF", tool_ref).replace("NODE_REF", node_ref))
    return spec


def test_modules_in_the_folder_are_accepted(tmp_path: Path) -> None:
    assert load_spec(_write(tmp_path, "mine:run", "mine:hatch")).spec.name == "code"


@pytest.mark.parametrize(
    ("tool_ref", "node_ref", "line", "message"),
    [
        ("subprocess:getoutput", "mine:hatch", 6, "python module 'subprocess' of 'subprocess:getoutput' is not a file"),
        ("mine:run", "os:system", 9, "python module 'os' of 'os:system' is not a file inside the spec's folder"),
        ("missing:run", "mine:hatch", 6, "python module 'missing'"),
    ],
)
def test_modules_outside_the_folder_are_refused(tmp_path: Path, tool_ref: str, node_ref: str, line: int,
                                                 message: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(_write(tmp_path, tool_ref, node_ref))
    (issue,) = caught.value.issues
    assert issue.line == line and message in issue.message and "next to the spec" in (issue.fix or "")
