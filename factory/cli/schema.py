"""`factory schema`: the JSON Schema of the spec language (editors validate and complete with it)."""

from __future__ import annotations

import json
from typing import Any

from factory.cli._output import out_console

__all__ = ["schema", "spec_json_schema"]


def spec_json_schema() -> dict[str, Any]:
    """The spec's JSON Schema, field docstrings as descriptions (`factory.language.spec_json_schema`)."""
    from factory.language import spec_json_schema as build

    return build()


def schema() -> None:
    """Print the spec's JSON Schema (commit it as specs/spec.schema.json)."""
    out_console.print(json.dumps(spec_json_schema(), indent=2, sort_keys=True), markup=False)
