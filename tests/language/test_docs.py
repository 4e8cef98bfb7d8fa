"""`docs/language.md` is the language as the code has it: its generated tables are what the models
produce now, every part and node kind is described, and its examples run. `docs/mock-llm.md` names
the tools a script must answer to drive `extract` and `classify`, and its example drives the spec
`factory init` writes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from factory.language import NODE_KIND_SPECS, load_spec, spec_json_schema
from factory.mockllm import MockLLMServer, load_script

ROOT = Path(__file__).resolve().parents[2]
LANGUAGE = ROOT / "docs" / "language.md"
MOCK_LLM = ROOT / "docs" / "mock-llm.md"


def _yaml_blocks(path: Path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S)


def test_generated_tables_are_current(tmp_path: Path) -> None:
    """The regeneration command finds nothing to change, and it does rewrite a stale table."""
    command = [sys.executable, "-m", "factory.language._doc_tables"]
    check = subprocess.run([*command, "--check", str(LANGUAGE)], capture_output=True, text=True, timeout=60,
                           check=False)
    assert check.returncode == 0, check.stderr
    stale = tmp_path / "language.md"
    stale.write_text(LANGUAGE.read_text().replace("| `spec` | `1` | **required** |", "| `spec` | `2` | |"))
    assert subprocess.run([*command, "--check", str(stale)], capture_output=True, timeout=60).returncode == 1
    subprocess.run([*command, str(stale)], check=True, timeout=60)
    assert stale.read_text() == LANGUAGE.read_text()


def test_every_part_of_a_spec_has_its_table() -> None:
    sections = set(re.findall(r"<!-- generated: ([\w-]+) -->", LANGUAGE.read_text()))
    parts = {f"keys-{name}" for name, part in spec_json_schema()["$defs"].items() if "properties" in part}
    assert sections == parts | {"keys-Spec", "kinds"}


def test_every_node_kind_has_a_section() -> None:
    headings = set(re.findall(r"^### (\w+)$", LANGUAGE.read_text(), re.M))
    assert set(NODE_KIND_SPECS) <= headings


def test_the_first_example_is_a_valid_spec(tmp_path: Path) -> None:
    spec = tmp_path / "helpdesk.yaml"
    spec.write_text(_yaml_blocks(LANGUAGE)[0])
    loaded = load_spec(spec)
    assert list(loaded.spec.nodes) == ["understand", "answer"]


def test_every_yaml_example_parses() -> None:
    for path in (LANGUAGE, MOCK_LLM):
        for block in _yaml_blocks(path):
            assert isinstance(yaml.safe_load(block), dict | list), block


def test_the_prompt_name_rule_is_stated_as_the_code_has_it(tmp_path: Path) -> None:
    assert "`classify-intent` are names" in LANGUAGE.read_text()
    spec = tmp_path / "s.yaml"
    spec.write_text(_yaml_blocks(LANGUAGE)[0].replace("prompt: answer", "prompt: classify-intent").replace(
        "prompts:\n", "prompts:\n  classify-intent: Say hi.\n"))
    loaded = load_spec(spec)
    from factory.compiler import compile_plan

    assert compile_plan(loaded)["nodes"]["answer"]["prompt"] == "Say hi."


def test_mock_llm_doc_names_the_tools_the_nodes_force() -> None:
    from graphs.nodes import classify, extract

    text = MOCK_LLM.read_text()
    assert f"`{extract.TOOL_NAME}`" in text and f"`{classify.TOOL_NAME}`" in text
    for key in ("queue", "rules", "when", "default", "fail", "times", "last_user_regex", "system_regex",
                "tool_name", "cut_after_tokens", "hang"):
        assert f"`{key}" in text, key
    for block in _yaml_blocks(MOCK_LLM):
        if not block.lstrip().startswith("#"):
            load_script(yaml.safe_load(block))  # every example script loads


def test_mock_llm_example_drives_the_agent_factory_init_writes(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-m", "factory", "init", str(tmp_path / "desk")], env=env, check=True,
                   capture_output=True, timeout=120)
    example = next(b for b in _yaml_blocks(MOCK_LLM) if "record_slots" in b and "helpful assistant" in b)
    with MockLLMServer(yaml.safe_load(example)) as server:
        done = subprocess.run([sys.executable, "-m", "factory", "test", str(tmp_path / "desk" / "specs" / "agent.yaml"),
                               "--model", "openai:mock"], capture_output=True, text=True, timeout=120, check=False,
                              env={**env, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "mock"})
        tools = [r.body.get("tool_choice") for r in server.requests]
    assert done.returncode == 0, done.stdout + done.stderr
    assert any("record_slots" in str(choice) for choice in tools)
