"""The committed JSON Schema is what `factory schema` prints, documents every field and accepts every
example spec (the schema is what an editor validates and completes with)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from factory.language._yaml import load_yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "specs" / "spec.schema.json"
EXAMPLES = sorted((ROOT / "specs").glob("*.yaml"))
SCHEMA_LINE = "# yaml-language-server: $schema="


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def test_factory_schema_prints_the_committed_schema(schema: dict[str, Any]) -> None:
    result = subprocess.run([sys.executable, "-m", "factory", "schema"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == schema, "regenerate: .venv/bin/factory schema > specs/spec.schema.json"
    assert result.stdout.strip() == SCHEMA_PATH.read_text().strip()


def test_schema_is_valid_draft_2020_12(schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)


def test_field_docstrings_become_descriptions(schema: dict[str, Any]) -> None:
    props = schema["properties"]
    assert props["spec"]["description"] == "Format version (required)."
    assert "DNS label" in props["name"]["description"]
    reply = schema["$defs"]["ReplyNode"]
    assert reply["description"].startswith("One LLM answer to the user")
    assert "streaming rule" in reply["properties"]["stream"]["description"]
    assert "environment variable" in schema["$defs"]["ModelSettings"]["properties"]["api_key_env"]["description"]


def test_every_node_kind_is_in_the_schema(schema: dict[str, Any]) -> None:
    kinds = {schema["$defs"][name]["properties"]["kind"]["const"] for name in schema["$defs"]
             if name.endswith("Node") and "kind" in schema["$defs"][name]["properties"]}
    assert kinds == {"reply", "agent", "extract", "classify", "tool", "set", "interrupt", "subgraph", "python"}


def test_there_are_example_specs() -> None:
    assert any(p.name == "sales_discovery.yaml" for p in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_starts_with_the_schema_line(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first.startswith(SCHEMA_LINE), first
    target = (path.parent / first.removeprefix(SCHEMA_LINE).strip()).resolve()
    assert target == SCHEMA_PATH


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_validates_against_the_schema(path: Path, schema: dict[str, Any]) -> None:
    data, _source, issues = load_yaml(path.read_bytes(), str(path))
    assert not issues
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    assert not errors, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors]


def test_schema_rejects_an_unknown_key(schema: dict[str, Any]) -> None:
    data, _source, _issues = load_yaml((ROOT / "specs" / "sales_discovery.yaml").read_bytes(), "s")
    data["nodez"] = {}
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(data))
