"""Tests may name nodes inside a subgraph as `<subgraph node>.<child node>`, and only real ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.errors import SpecError
from factory.language.loader import load_spec

CHILD = """spec: 1
name: child
models: {main: {provider: scripted}}
state: {city: {type: string}}
nodes:
  parse: {kind: extract, prompt: Find the city., into: [city]}
edges:
  - {from: start, to: parse}
  - {from: parse, to: end}
"""

PARENT = """spec: 1
name: parent
models: {main: {provider: scripted}}
state: {city: {type: string}}
nodes:
  address: {kind: subgraph, spec: child.yaml, output: {city: state.city}}
edges:
  - {from: start, to: address}
  - {from: address, to: end}
tests:
  - name: scripts the child
    script:
      SCRIPT_KEY: [{city: Berlin}]
    turns:
      - user: Berlin please
        expect:
          - visited: [VISITED]
"""


def _write(tmp_path: Path, script_key: str, visited: str) -> Path:
    (tmp_path / "child.yaml").write_text(CHILD)
    parent = tmp_path / "parent.yaml"
    parent.write_text(PARENT.replace("SCRIPT_KEY", script_key).replace("VISITED", visited))
    return parent


def test_dotted_child_names_are_accepted(tmp_path: Path) -> None:
    loaded = load_spec(_write(tmp_path, "address.parse", "address.parse"))
    assert loaded.spec.tests[0].script == {"address.parse": [{"city": "Berlin"}]}


@pytest.mark.parametrize(
    ("script_key", "visited", "line", "message"),
    [
        ("address.nope", "address", 13, "script for unknown node 'address.nope'"),
        ("parse", "address", 13, "script for unknown node 'parse'"),
        ("address.parse", "address.nope", 17, "visited names unknown node 'address.nope'"),
    ],
)
def test_unknown_child_names_are_reported(tmp_path: Path, script_key: str, visited: str, line: int,
                                          message: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(_write(tmp_path, script_key, visited))
    (issue,) = caught.value.issues
    assert issue.line == line and message in issue.message and issue.fix


JUDGED = """spec: 1
name: judged
models: {main: {provider: scripted}}
nodes:
  answer: {kind: reply, prompt: Answer briefly.}
edges:
  - {from: start, to: answer}
  - {from: answer, to: end}
tests:
  - name: the judge is scripted
    script:
      judge: VERDICTS
    turns:
      - user: hi
        expect:
          - judge: The reply is polite.
"""


@pytest.mark.parametrize("verdicts", ["[true]", "[{passed: false, reason: rude}]"])
def test_a_scripted_judge_verdict_is_accepted(tmp_path: Path, verdicts: str) -> None:
    spec = tmp_path / "judged.yaml"
    spec.write_text(JUDGED.replace("VERDICTS", verdicts))
    assert load_spec(spec).spec.tests[0].script["judge"]


def test_a_malformed_judge_verdict_is_reported(tmp_path: Path) -> None:
    spec = tmp_path / "judged.yaml"
    spec.write_text(JUDGED.replace("VERDICTS", "[maybe]"))
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    (issue,) = caught.value.issues
    assert issue.line == 12 and "scripted judge verdict is true/false" in issue.message
