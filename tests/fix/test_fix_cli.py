"""`factory fix` end to end: a seeded fault, `factory mock-llm` as the patcher, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fix_helpers import BAD_WHEN, BREAKS_ONE, BROKEN_JSON, OUT_OF_BOUNDS, RIGHT, USELESS

from factory.mockllm import MockLLMServer


def _fix(spec: Path, server: MockLLMServer, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "mock", "FACTORY_MODEL": "scripted"}
    return subprocess.run([sys.executable, "-m", "factory", "fix", str(spec), "--runner", "inprocess",
                           "--report", str(spec.parent / "report"), *extra],
                          capture_output=True, text=True, env=env, timeout=300, check=False)


def _report(spec: Path) -> dict[str, Any]:
    return json.loads((spec.parent / "report.json").read_text())


def test_seeded_fault_is_fixed_after_bad_patches_are_rejected(faulty_spec: Path) -> None:
    original = faulty_spec.read_text()
    with MockLLMServer({"queue": [OUT_OF_BOUNDS, BROKEN_JSON, USELESS, BREAKS_ONE, RIGHT]}) as server:
        result = _fix(faulty_spec, server)
        prompts = [r.body["messages"][-1]["content"] for r in server.requests]
    assert result.returncode == 0, result.stderr
    report = _report(faulty_spec)
    verdicts = [(a["verdict"], a["reason"]) for a in report["attempts"]]
    assert [v for v, _ in verdicts] == ["rejected", "rejected", "rejected", "rejected", "kept"]
    assert "outside fix.editable" in verdicts[0][1]
    assert "not valid JSON" in verdicts[1][1]
    assert "passes no more conversations" in verdicts[2][1]
    assert "breaks conversations that passed" in verdicts[3][1]
    assert "asks about pain when only the company is known" in verdicts[3][1]
    assert report["green"] is True and report["stop"] == "green"
    assert report["passed_before"] < report["total"] == report["passed_after"]
    # the rejected patches and their reasons were fed back to the patcher
    assert "outside fix.editable" in prompts[1] and "breaks conversations that passed" in prompts[4]
    # only the patched value changed, byte for byte
    assert faulty_spec.read_text() == original.replace(BAD_WHEN, 'when: "state.stage == \\"budget\\""')
    assert "+  - {from: qualify, to: ask_budget" in (faulty_spec.parent / "report.md").read_text()


def test_dry_run_leaves_the_spec_untouched(faulty_spec: Path) -> None:
    original = faulty_spec.read_text()
    with MockLLMServer({"queue": [RIGHT]}) as server:
        result = _fix(faulty_spec, server, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert faulty_spec.read_text() == original
    patch = (faulty_spec.parent / "report.patch").read_text()  # beside the --report files
    assert '-  - {from: qualify, to: ask_budget, when: \'state.stage == "budgte"\'}' in patch


def test_iteration_cap_stops_a_loop_that_cannot_fix(faulty_spec: Path) -> None:
    with MockLLMServer({"default": USELESS}) as server:
        result = _fix(faulty_spec, server, "--max-iterations", "2")
        calls = len(server.requests)
    assert result.returncode == 1
    report = _report(faulty_spec)
    assert report["stop"] == "max_iterations" and len(report["attempts"]) == 2 and calls == 2


def test_llm_call_cap_stops_the_loop(faulty_spec: Path) -> None:
    text = faulty_spec.read_text().replace("max_llm_calls: 20", "max_llm_calls: 3")
    faulty_spec.write_text(text)
    with MockLLMServer({"default": OUT_OF_BOUNDS}) as server:
        result = _fix(faulty_spec, server)
        calls = len(server.requests)
    assert result.returncode == 1
    assert _report(faulty_spec)["stop"] == "max_llm_calls" and calls == 3


def test_patcher_server_down_is_survived_and_reported(faulty_spec: Path) -> None:
    with MockLLMServer({"default": {"fail": {"status": 500}}}) as server:
        result = _fix(faulty_spec, server, "--max-iterations", "1")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "the patcher model failed" in _report(faulty_spec)["attempts"][0]["reason"]


def test_patches_that_change_code_are_refused_whatever_editable_allows(faulty_spec: Path) -> None:
    text = faulty_spec.read_text().replace(
        'editable: ["/prompts/*", "/nodes/*/prompt", "/edges/*/when"]',
        'editable: ["/prompts/*", "/nodes/*", "/tools/*", "/edges/*/when"]')
    faulty_spec.write_text(text)
    run_code = _tool_patch([{"op": "replace", "path": "/tools/company_lookup/python", "value": "subprocess:getoutput"}])
    new_kind = _tool_patch([{"op": "replace", "path": "/nodes/lookup/tool", "value": "book_meeting"}])
    with MockLLMServer({"queue": [run_code, new_kind, RIGHT]}) as server:
        result = _fix(faulty_spec, server)
    assert result.returncode == 0, result.stderr
    reasons = [a["reason"] for a in _report(faulty_spec)["attempts"]]
    assert reasons[0] == "the patch changes `tools`, which the fix loop never changes"
    assert reasons[1] == "the patch changes `tool` of node 'lookup', which the fix loop never changes"


def test_default_report_sits_beside_the_spec_and_no_candidate_is_left_there(faulty_spec: Path) -> None:
    before = sorted(p.name for p in faulty_spec.parent.iterdir())
    env = {**os.environ, "FACTORY_MODEL": "scripted", "OPENAI_API_KEY": "mock"}
    with MockLLMServer({"queue": [RIGHT]}) as server:
        env["OPENAI_BASE_URL"] = server.base_url
        result = subprocess.run([sys.executable, "-m", "factory", "fix", str(faulty_spec), "--runner", "inprocess"],
                                capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    after = sorted(p.name for p in faulty_spec.parent.iterdir() if p.name != "__pycache__")
    added = sorted(set(after) - set(before))
    assert added == ["sales_discovery.fix-report.json", "sales_discovery.fix-report.md"]


def test_wall_clock_cap_stops_the_loop(faulty_spec: Path) -> None:
    capped = faulty_spec.read_text().replace("max_llm_calls: 20", "max_llm_calls: 20\n  max_wall_s: 0.001")
    faulty_spec.write_text(capped)
    with MockLLMServer({"default": USELESS}) as server:
        result = _fix(faulty_spec, server)
        calls = len(server.requests)
    assert result.returncode == 1
    assert _report(faulty_spec)["stop"] == "wall_clock" and calls == 0


def _tool_patch(operations: list[dict[str, object]]) -> dict[str, object]:
    return {"tool_calls": [{"name": "apply_spec_patch",
                            "arguments": {"operations": operations, "rationale": "r"}}]}
