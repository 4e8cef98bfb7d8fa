"""Conditional edges that provably cover every case need no default edge (SPEC.md, Edges)."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.errors import SpecError
from factory.language.loader import load_spec

HEAD = """\
spec: 1
name: demo
models:
  main: {provider: scripted}
state:
  mood: {type: string, enum: [happy, sad, "so-so"]}
  ok: {type: boolean}
  count: {type: integer, default: 0}
nodes:
  greet: {kind: reply, prompt: "Hello there."}
  other: {kind: reply, prompt: "Bye now."}
edges:
  - {from: start, to: greet}
  - {from: other, to: end}
"""
# Edges appended to HEAD start on line 15.


def _load(tmp_path: Path, edges: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(HEAD + edges)
    load_spec(path)


COVERING = {
    "literal-true": "  - {from: greet, to: other, when: ' true '}\n",
    "literal-true-after-others": "  - {from: greet, to: other, when: 'state.ok'}\n"
                                 "  - {from: greet, to: end, when: 'true'}\n",
    "name-and-negation": "  - {from: greet, to: other, when: state.ok}\n"
                         "  - {from: greet, to: end, when: '!state.ok'}\n",
    "negation-first": "  - {from: greet, to: other, when: '! state.ok'}\n"
                      "  - {from: greet, to: end, when: 'state.ok'}\n",
    "parenthesized-negation": "  - {from: greet, to: other, when: 'state.count > 1'}\n"
                              "  - {from: greet, to: end, when: '!(state.count>1)'}\n",
    "negated-parenthesized": "  - {from: greet, to: other, when: '(state.count > 1)'}\n"
                             "  - {from: greet, to: end, when: '!(state.count > 1)'}\n",
    "enum-covered": "  - {from: greet, to: other, when: 'state.mood == \"happy\"'}\n"
                    "  - {from: greet, to: end, when: \"state.mood=='so-so'\"}\n"
                    "  - {from: greet, to: end, when: '\"sad\" == state.mood'}\n",
    "enum-covered-with-or": "  - {from: greet, to: other, when: 'state.mood == \"sad\" || state.mood == \"happy\"'}\n"
                            "  - {from: greet, to: end, when: 'state.mood == \"so-so\"'}\n",
}


@pytest.mark.parametrize("edges", COVERING.values(), ids=COVERING.keys())
def test_conditions_that_cover_every_case_need_no_default(tmp_path: Path, edges: str) -> None:
    _load(tmp_path, edges)


NOT_COVERING = {
    "not-true": ("  - {from: greet, to: other, when: 'true && state.ok'}\n", 15, 36),
    # (`!state.count > 1` is also a CEL type error: `!` applies to the integer)
    "negation-binds-tightly": ("  - {from: greet, to: other, when: 'state.count > 1'}\n"
                               "  - {from: greet, to: end, when: '!state.count > 1'}\n", 16, 34),
    "different-conditions": ("  - {from: greet, to: other, when: 'state.ok'}\n"
                             "  - {from: greet, to: end, when: '!(state.count > 1)'}\n", 16, 34),
    "enum-missing-a-value": ("  - {from: greet, to: other, when: 'state.mood == \"happy\"'}\n"
                             "  - {from: greet, to: end, when: 'state.mood == \"sad\"'}\n", 16, 34),
    "enum-under-and": ("  - {from: greet, to: other, when: 'state.mood == \"happy\" && state.ok'}\n"
                       "  - {from: greet, to: end, when: 'state.mood == \"sad\" || state.mood == \"so-so\"'}\n",
                       16, 34),
    "space-inside-the-value": ("  - {from: greet, to: other, when: 'state.mood == \"happy\"'}\n"
                               "  - {from: greet, to: end, when: 'state.mood == \"sad\"'}\n"
                               "  - {from: greet, to: end, when: 'state.mood == \"so - so\"'}\n", 17, 34),
}


@pytest.mark.parametrize(("edges", "line", "column"), NOT_COVERING.values(), ids=NOT_COVERING.keys())
def test_conditions_that_may_all_fail_need_a_default(tmp_path: Path, edges: str, line: int, column: int) -> None:
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, edges)
    (issue,) = [i for i in caught.value.issues if "no default" in i.message]
    assert (issue.line, issue.column) == (line, column)
    assert issue.message == "the conditional edges leaving 'greet' have no default"
    assert issue.fix == "add `- {from: greet, to: <node or end>}` after them"
