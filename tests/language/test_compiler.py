"""`compile_plan`: the typed plan of `graphs/plan.py`, new keys written only when a spec sets them."""

from __future__ import annotations

import json
from pathlib import Path

from factory.compiler import compile_plan
from factory.language import load_spec
from graphs.plan import SERVE_DEFAULTS, serve_settings

ROOT = Path(__file__).resolve().parents[2]

SPEC = """\
spec: 1
name: desk
models:
  main: {provider: scripted, history: {last: 20}}
  small: {provider: scripted}
default_model: main
state:
  topic: {type: string}
mcp_servers:
  github: {command: npx, args: [server-github], env: [GITHUB_TOKEN], tools: [create_issue]}
  search: {url: "https://mcp.example.com/mcp", headers: {Authorization: SEARCH_TOKEN}}
tools:
  issue: {description: Open an issue., mcp: github/create_issue}
nodes:
  understand: {kind: extract, prompt: "Record the topic.", into: [topic], history: {max_tokens: 900}}
  answer: {kind: agent, prompt: "Help.", tools: [issue], history: {summarize_after: 30, model: small}}
edges:
  - {from: start, to: understand}
  - {from: understand, to: answer}
  - {from: answer, to: end}
serve: {broker: "redis://cache:6379/0", grace_s: 12}
"""



def test_new_keys_reach_the_plan(tmp_path: Path) -> None:
    plan = compile_plan(load_spec(_write(tmp_path)))
    assert plan["models"]["main"].get("history") == {"last": 20}
    assert "history" not in plan["models"]["small"]
    understand, answer = plan["nodes"]["understand"], plan["nodes"]["answer"]
    assert understand.get("history") == {"max_tokens": 900}
    assert answer.get("history") == {"summarize_after": 30, "model": "small"}
    assert plan["tools"]["issue"] == {"form": "mcp", "description": "Open an issue.", "parameters": None,
                                      "mcp": "github/create_issue"}
    assert plan.get("mcp_servers") == {
        "github": {"command": "npx", "args": ["server-github"], "env": ["GITHUB_TOKEN"], "tools": ["create_issue"]},
        "search": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "SEARCH_TOKEN"},
                   "tools": None},
    }
    assert plan["serve"].get("broker") == "redis://cache:6379/0"
    assert serve_settings(plan)["grace_s"] == 12


def _write(tmp_path: Path, text: str = SPEC) -> Path:
    spec = tmp_path / "desk.yaml"
    spec.write_text(text)
    return spec


def test_unset_new_keys_stay_out_and_defaults_come_from_serve_defaults(tmp_path: Path) -> None:
    text = SPEC.replace('serve: {broker: "redis://cache:6379/0", grace_s: 12}\n', "")
    plan = compile_plan(load_spec(_write(tmp_path, text)))
    assert "broker" not in plan["serve"] and "grace_s" not in plan["serve"]
    assert serve_settings(plan) == {**SERVE_DEFAULTS, "path": None}


def test_the_sales_plan_is_the_committed_one() -> None:
    plan = compile_plan(load_spec(ROOT / "specs" / "sales_discovery.yaml"))
    committed = json.loads((ROOT / "generated" / "sales-discovery" / "agent" / "plan.json").read_text())
    assert json.loads(json.dumps(plan)) == committed


def test_every_node_kind_compiles_to_its_plan() -> None:
    kinds = set()
    for name in ("sales_discovery.yaml", "support_triage.yaml", "onboarding.yaml"):
        plan = compile_plan(load_spec(ROOT / "specs" / name))
        kinds |= {node["kind"] for node in plan["nodes"].values()}
        for node in plan["nodes"].values():
            if node["kind"] == "subgraph":
                assert node["plan"]["python_path"] == ["."]
                assert node["input"] == {"customer": "state.full_name"}
    assert kinds == {"reply", "agent", "extract", "classify", "tool", "set", "interrupt", "subgraph", "python"}
