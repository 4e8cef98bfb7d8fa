"""A changed prompt is a fault the runner sees when the model reads the prompt: the sales agent's
conversations against `factory mock-llm`, whose replies depend on the system prompt it receives."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from factory.mockllm import MockLLMServer

ROOT = Path(__file__).resolve().parents[2]
SPEC = """spec: 1
name: budget-asker
models: {main: {provider: openai, model: mock}}
prompts:
  ask: You qualify leads. Ask the lead what budget they have set aside.
nodes:
  ask_budget: {kind: reply, prompt: ask}
edges:
  - {from: start, to: ask_budget}
  - {from: ask_budget, to: end}
tests:
  - name: asks for the budget
    turns:
      - user: Hi, we need help with churn.
        expect:
          - contains: budget
"""
# The fake model follows its instructions: a prompt about budget gets a budget question.
RULES = {"rules": [{"when": {"system_regex": "(?i)budget"}, "text": "What budget have you set aside?"}],
         "default": {"text": "How can I help you today?"}}


def _test(spec: Path, server: MockLLMServer) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "mock", "NO_COLOR": "1"}
    env.pop("FACTORY_MODEL", None)
    return subprocess.run([sys.executable, "-m", "factory", "test", str(spec), "--model", "openai:mock"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_a_changed_prompt_fails_the_conversation_that_depends_on_it(tmp_path: Path) -> None:
    spec = tmp_path / "budget.yaml"
    spec.write_text(SPEC)
    with MockLLMServer(RULES) as server:
        good = _test(spec, server)
        spec.write_text(SPEC.replace("Ask the lead what budget they have set aside.", "Greet the lead."))
        bad = _test(spec, server)
    assert good.returncode == 0, good.stdout + good.stderr
    assert bad.returncode == 1
    assert "FAIL asks for the budget" in bad.stdout
    assert "reply does not contain 'budget'" in bad.stdout + bad.stderr


def test_the_sales_agent_runs_over_the_real_openai_client(tmp_path: Path) -> None:
    """The same spec, unchanged, against an OpenAI-compatible server (here the fake one)."""
    for name in ("sales_discovery.yaml", "sales_tools.py"):
        shutil.copy(ROOT / "specs" / name, tmp_path / name)
    shutil.copytree(ROOT / "specs" / "prompts", tmp_path / "prompts")
    script = {"rules": [{"when": {"tool_name": "record_slots"}, "tool_calls": [{"name": "record_slots",
                                                                                "arguments": {}}]}],
              "default": {"text": "Hi, I'm Sam from Flowly! Which company are you with?"}}
    with MockLLMServer(script) as server:
        done = _test(tmp_path / "sales_discovery.yaml", server)
        asked = [r.body for r in server.requests]
    # the conversation that needs no scripted extraction passes; the others need the script (offline only)
    assert "PASS asks for the company when the lead gives nothing" in done.stdout, done.stdout + done.stderr
    assert any(b.get("tool_choice", {}).get("function", {}).get("name") == "record_slots" for b in asked)
    assert any(b.get("stream") is True for b in asked)
