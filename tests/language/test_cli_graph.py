"""`factory graph`: every node with its kind's shape (from the registry of kinds), every edge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _graph(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "factory", "graph", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)


def test_mermaid_draws_each_kind_with_its_shape() -> None:
    result = _graph("specs/support_triage.yaml")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "flowchart TD"
    assert '  triage{"triage<br/><i>classify</i>"}' in lines
    assert '  find_order[/"find_order<br/><i>extract</i>"/]' in lines
    assert '  troubleshoot[["troubleshoot<br/><i>agent</i>"]]' in lines
    assert '  ask_order(["ask_order<br/><i>reply</i>"])' in lines
    assert '  order_lookup["order_lookup<br/><i>tool</i>"]' in lines
    assert '  log_category -- "state.category == #quot;billing#quot;" --> find_order' in lines


def test_json_lists_nodes_and_edges() -> None:
    result = _graph("specs/onboarding.yaml", "--format", "json")
    data = json.loads(result.stdout)
    assert data["nodes"]["collect_address"] == "subgraph"
    assert data["edges"][0] == {"from": "start", "to": "help", "when": "state.onboarded"}


def test_an_invalid_spec_exits_3_with_its_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec: 1\nname: x\nnodes: {a: {kind: reply}}\nedges: [{from: start, to: a}]\n")
    result = _graph(str(bad))
    assert result.returncode == 3
    assert f"{bad}:3:9: missing required key 'prompt' in nodes/a" in result.stderr
    assert "docs/language.md" in result.stderr
