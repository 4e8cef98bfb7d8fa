"""The patcher's proposals: schema, editable globs, and a write-back that keeps the file's layout."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
import yaml

from factory.fix.patch import PatchRejected, apply_to_text, check_editable, parse_proposal, pointer_editable

SALES = Path(__file__).resolve().parents[2] / "specs" / "sales_discovery.yaml"
EDITABLE = ["/prompts/*", "/nodes/*/prompt", "/edges/*/when"]


def _changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]


@pytest.mark.parametrize(
    ("pointer", "editable"),
    [("/prompts/ask_budget", True), ("/prompts/persona/file", True), ("/nodes/book/prompt", True),
     ("/edges/3/when", True), ("/nodes/book/tools", False), ("/edges/3/to", False), ("/tests/0/name", False),
     ("", False), ("/fix/editable", False)],
)
def test_pointer_editable(pointer: str, editable: bool) -> None:
    assert pointer_editable(pointer, EDITABLE) is editable


def test_scalar_replace_keeps_every_other_byte() -> None:
    text = SALES.read_text()
    proposal = parse_proposal({"operations": [
        {"op": "replace", "path": "/edges/8/when", "value": 'state.stage == "budget"'},
        {"op": "replace", "path": "/prompts/ask_pain", "value": "{{ prompts.persona }}\nAsk about their pain.\n"},
    ], "rationale": "test"})
    new = apply_to_text(text, proposal)
    changed = _changed_lines(text, new)
    assert changed == [
        "-     Ask what problem made them reach out today.",
        "+     Ask about their pain.",
        "-   - {from: qualify, to: ask_budget, when: 'state.stage == \"budget\"'}",
        "+   - {from: qualify, to: ask_budget, when: \"state.stage == \\\"budget\\\"\"}",
    ]
    data = yaml.safe_load(new)
    assert data["prompts"]["ask_pain"] == "{{ prompts.persona }}\nAsk about their pain.\n"
    assert new.splitlines()[:4] == text.splitlines()[:4]  # header comments untouched


def test_add_keeps_comments_through_round_trip() -> None:
    text = SALES.read_text()
    new = apply_to_text(text, parse_proposal({"operations": [
        {"op": "add", "path": "/prompts/extra", "value": "Be brief."}], "rationale": "r"}))
    assert yaml.safe_load(new)["prompts"]["extra"] == "Be brief."
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert comments == [line for line in new.splitlines() if line.lstrip().startswith("#")]


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ("{not json", "not valid JSON"),
        ({"operations": [], "rationale": "r"}, "does not fit the schema at operations"),
        ({"operations": [{"op": "delete", "path": "/x"}], "rationale": "r"},
         "does not fit the schema at operations/0/op"),
        ({"operations": [{"op": "replace", "path": "/x", "value": 1}]}, "does not fit the schema at rationale"),
        ({"operations": [{"op": "replace", "path": "x", "value": 1}], "rationale": "r"}, "operations/0/path"),
    ],
)
def test_malformed_proposals_are_rejected(arguments: object, reason: str) -> None:
    with pytest.raises(PatchRejected) as caught:
        parse_proposal(arguments)
    assert reason in caught.value.reason


def test_out_of_bounds_and_unappliable_patches_are_rejected() -> None:
    outside = parse_proposal({"operations": [{"op": "replace", "path": "/nodes/book/tools", "value": []}],
                              "rationale": "r"})
    with pytest.raises(PatchRejected, match=r"outside fix.editable"):
        check_editable(outside, EDITABLE)
    move = parse_proposal({"operations": [{"op": "move", "from": "/tests/0", "path": "/prompts/x"}], "rationale": "r"})
    with pytest.raises(PatchRejected, match=r"from '/tests/0' is outside"):
        check_editable(move, EDITABLE)
    missing = parse_proposal({"operations": [{"op": "replace", "path": "/prompts/nope", "value": "x"}],
                              "rationale": "r"})
    with pytest.raises(PatchRejected, match=r"does not apply"):
        apply_to_text(SALES.read_text(), missing)


@pytest.mark.parametrize("value", ["  leading spaces\nsecond line\n", "  a\n b\n"])
def test_block_scalars_that_start_with_whitespace_fall_back_to_the_round_trip(value: str) -> None:
    new = apply_to_text(SALES.read_text(), parse_proposal({"operations": [
        {"op": "replace", "path": "/prompts/ask_pain", "value": value}], "rationale": "r"}))
    assert yaml.safe_load(new)["prompts"]["ask_pain"] == value


def test_a_value_no_writer_can_keep_faithfully_is_refused_not_mangled() -> None:
    # ruamel keeps the literal block and writes the tab at the start of its line; libyaml (our
    # loader) refuses that, so the loop must refuse the patch rather than write a broken spec
    with pytest.raises(PatchRejected, match="could not be written back faithfully"):
        apply_to_text(SALES.read_text(), parse_proposal({"operations": [
            {"op": "replace", "path": "/prompts/ask_pain", "value": "\tTab first\n"}], "rationale": "r"}))


def test_the_patcher_gets_the_whole_schema_and_whole_failure_records() -> None:
    from factory.cli.schema import spec_json_schema
    from factory.fix.patcher import MAX_FAILURES, PatcherRequest

    schema = spec_json_schema()
    failures = [{"conversation": f"c{i}", "transcript": ["x" * 3000]} for i in range(MAX_FAILURES + 3)]
    prompt = PatcherRequest(spec_text="spec: 1\n", editable=EDITABLE, schema=schema, failures=failures).prompt()
    assert prompt.rstrip().endswith(json.dumps(schema, separators=(",", ":")))
    assert prompt.count('"conversation"') == MAX_FAILURES and "(3 more failure records left out)" in prompt
