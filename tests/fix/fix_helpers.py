"""Shared pieces of the fix-loop tests: the seeded fault and the patcher's scripted answers."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GOOD_WHEN = "when: 'state.stage == \"budget\"'"
BAD_WHEN = "when: 'state.stage == \"budgte\"'"


def _patch(operations: list[dict[str, Any]], rationale: str) -> dict[str, Any]:
    arguments = {"operations": operations, "rationale": rationale}
    return {"tool_calls": [{"name": "apply_spec_patch", "arguments": arguments}]}


OUT_OF_BOUNDS = _patch([{"op": "replace", "path": "/nodes/book/max_steps", "value": 9}], "more steps")
USELESS = _patch([{"op": "replace", "path": "/prompts/ask_budget", "value": "Ask about money."}], "clearer prompt")
BREAKS_ONE = _patch([{"op": "replace", "path": "/edges/7/when", "value": 'state.stage == "nothing"'},
                     {"op": "replace", "path": "/edges/8/when", "value": 'state.stage == "budget"'}], "reroute")
RIGHT = _patch([{"op": "replace", "path": "/edges/8/when", "value": 'state.stage == "budget"'}], "fix the typo")
BROKEN_JSON = {"tool_calls": [{"name": "apply_spec_patch", "raw_arguments": '{"operations": [oops'}]}


def make_faulty_spec(tmp_path: Path) -> Path:
    """A copy of the sales agent with one seeded fault: the budget route's condition has a typo."""
    for name in ("sales_discovery.yaml", "sales_tools.py"):
        shutil.copy(ROOT / "specs" / name, tmp_path / name)
    shutil.copytree(ROOT / "specs" / "prompts", tmp_path / "prompts")
    spec = tmp_path / "sales_discovery.yaml"
    text = spec.read_text()
    assert text.count(GOOD_WHEN) == 1
    spec.write_text(text.replace(GOOD_WHEN, BAD_WHEN))
    return spec
