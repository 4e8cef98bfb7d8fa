"""Every example spec's conversations pass; copies with a seeded fault fail and name the broken conversation."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from spec_test_helpers import SPECS

from factory.testing import RunReport, run_spec

FACTORY = Path(sys.executable).parent / "factory"

EXAMPLES = sorted(p for p in SPECS.glob("*.yaml")
                  if re.search(r"^tests\s*:", p.read_text(encoding="utf-8"), re.MULTILINE))


@pytest.mark.parametrize("spec", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_spec_conversations_pass(spec: Path) -> None:
    report = run_spec(spec)
    assert report.results, f"{spec.name} has no conversations"
    assert report.passed, "\n\n".join(f.render() for f in report.failures())


def test_the_sales_spec_is_among_the_examples() -> None:
    assert "sales_discovery.yaml" in [p.name for p in EXAMPLES]


def _seeded(tmp_path: Path, file: str, old: str, new: str) -> Path:
    folder = tmp_path / "specs"
    shutil.copytree(SPECS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    target = folder / file
    text = target.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"the fault's anchor {old!r} is not unique in {file}"
    target.write_text(text.replace(old, new), encoding="utf-8")
    return folder / "sales_discovery.yaml"


ALL = {
    "asks for the company when the lead gives nothing",
    "looks the company up and asks for budget when pain is known",
    "asks about pain when only the company is known",
    "qualifies over several turns and books a meeting",
    "after booking it only reminds the lead of the call",
    "unknown companies still get qualified",
    "the budget question is judged to be a single question",
    "a simulated lead gets qualified and books a call",
}

FAULTS = {
    "wrong route (an edge's `when`)": (
        "sales_discovery.yaml", """to: ask_budget, when: 'state.stage == "budget"'""",
        """to: ask_budget, when: 'state.stage == "budgt"'""",
        {"looks the company up and asks for budget when pain is known",
         "qualifies over several turns and books a meeting", "unknown companies still get qualified",
         "a simulated lead gets qualified and books a call"}),
    "changed tool result (python tool)": (
        "sales_tools.py", '"employees": 45, "tier": "smb"', '"employees": 45, "tier": "mid-market"',
        {"asks about pain when only the company is known"}),
    "changed `set` expression": (
        "sales_discovery.yaml", 'values: {meeting_booked: "true"}', 'values: {meeting_booked: "false"}',
        {"qualifies over several turns and books a meeting", "after booking it only reminds the lead of the call",
         "a simulated lead gets qualified and books a call"}),
    "changed scripted reply (what a changed prompt does to a model's answer)": (
        "sales_discovery.yaml", '["Thanks! What made you reach out to us today?"]', '["Thanks! What brings you here?"]',
        {"asks about pain when only the company is known"}),
    "changed judge criterion into an empty reply": (
        "sales_discovery.yaml", 'ask_budget: ["What budget have you set aside for reducing churn?"]',
        'ask_budget: [""]', {"the budget question is judged to be a single question"}),
}


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
def test_seeded_fault_fails_and_names_the_conversation(tmp_path: Path, fault: str) -> None:
    file, old, new, broken = FAULTS[fault]
    spec = _seeded(tmp_path, file, old, new)
    if file.endswith(".py"):
        # a changed tool module needs a fresh process: this one imported `sales_tools` already
        out = tmp_path / "report.json"
        done = subprocess.run([str(FACTORY), "test", str(spec), "--json", str(out)], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 1, done.stdout + done.stderr
        (report,) = [RunReport.model_validate(r) for r in json.loads(out.read_text())["reports"]]
        for name in broken:
            assert f"FAILED {name} (attempt 1), turn 1" in done.stdout
    else:
        report = run_spec(spec)
    failed = {r.name for r in report.results if not r.passed}
    assert failed == broken
    assert {f.conversation for f in report.failures()} == broken
    assert {r.name for r in report.results if r.passed} == ALL - broken
