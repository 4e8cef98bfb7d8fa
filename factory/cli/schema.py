"""`factory schema`: the JSON Schema of the spec language (editors validate and complete with it)."""

from __future__ import annotations

import json
from typing import Any

from factory.cli._output import out_console

SCHEMA_ID = "https://meta-agent-factory.dev/spec-1.schema.json"


def spec_json_schema() -> dict[str, Any]:
    from factory.spec.models import Spec

    schema = Spec.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    return schema


def schema() -> None:
    """Print the spec's JSON Schema (commit it as specs/spec.schema.json)."""
    out_console.print(json.dumps(spec_json_schema(), indent=2, sort_keys=True), markup=False)
