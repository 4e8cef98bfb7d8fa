"""`fix.holdout` and the Pareto set, end to end: `factory fix` with `factory mock-llm` as the patcher.

The seeded fault is the budget route's typo; `BREAKS_ONE` makes every budget conversation pass but
sends the pain question nowhere, `RIGHT` fixes the typo alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fix_helpers import BREAKS_ONE, RIGHT, USELESS

from factory.cli.schema import spec_json_schema
from factory.errors import UserError
from factory.fix.loop import fix_spec
from factory.fix.patcher import Patcher
from factory.mockllm import MockLLMServer
from factory.testing.session import arun_spec
from graphs.models import make_chat_model

PAIN = "asks about pain when only the company is known"


def _fix(spec: Path, queue: list[dict[str, Any]], *extra: str) -> tuple[subprocess.CompletedProcess[str],
                                                                         list[str], dict[str, Any], str]:
    with MockLLMServer({"queue": queue, "default": USELESS}) as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "mock",
               "FACTORY_MODEL": "scripted"}
        done = subprocess.run([sys.executable, "-m", "factory", "fix", str(spec), "--runner", "inprocess",
                               "--report", str(spec.parent / "report"), *extra],
                              capture_output=True, text=True, env=env, timeout=300, check=False)
        prompts = [r.body["messages"][-1]["content"] for r in server.requests]
    report = json.loads((spec.parent / "report.json").read_text())
    return done, prompts, report, (spec.parent / "report.md").read_text()


def _hold_out(spec: Path, holdout: str) -> str:
    text = spec.read_text().replace("  max_llm_calls: 20", f"  max_llm_calls: 20\n  holdout: {holdout}")
    spec.write_text(text)
    return text


def test_the_only_patch_that_passes_the_visible_conversations_breaks_a_held_out_one(faulty_spec: Path) -> None:
    original = _hold_out(faulty_spec, json.dumps([PAIN]))
    done, prompts, report, md = _fix(faulty_spec, [BREAKS_ONE], "--max-iterations", "2")
    assert done.returncode == 1, done.stderr
    assert faulty_spec.read_text() == original  # rejected: the spec is untouched
    first = report["attempts"][0]
    assert first["verdict"] == "rejected" and first["candidate"] is None
    assert first["reason"] == (f"breaks held-out conversations that passed: [{PAIN!r}] (the patcher never saw "
                               "them); visible 7/7, held-out 0/1")
    assert first["rates"] == {"visible": 7, "visible_total": 7, "held_out": 0, "held_out_total": 1}
    assert report["holdout"] == [PAIN] and report["applied"] == 0 and report["stop"] == "max_iterations"
    assert f"| 1 | #0 | rejected | 4 -> 7 | 7/7 | 0/1 | breaks held-out conversations that passed: ['{PAIN}']" in md
    assert "| baseline | #0 | 3/7 | 1/1 |" in md and "| 1 | #0 | 3/7 | 1/1 |" in md
    # the patcher never saw the held-out conversation: not its text, not its failure, not its name in a reason
    assert len(prompts) == 2
    for prompt in prompts:
        assert PAIN not in prompt and "I work at Initech." not in prompt
        assert "# a held-out conversation (hidden from the patcher)" in prompt
    assert "it breaks 1 conversation(s) held out of your sight" in prompts[1]
    # line numbers the patcher reads still point at the file's lines
    numbered = [line for line in prompts[0].splitlines() if " |   - {from: qualify, to: ask_budget" in line]
    line = next(i for i, text in enumerate(original.splitlines(), 1) if "to: ask_budget" in text)
    assert numbered and numbered[0].lstrip().startswith(f"{line} |")


def test_a_patch_that_breaks_no_held_out_conversation_is_kept(faulty_spec: Path) -> None:
    _hold_out(faulty_spec, json.dumps([PAIN]))
    done, _prompts, report, md = _fix(faulty_spec, [BREAKS_ONE, RIGHT])
    assert done.returncode == 0, done.stderr
    assert [a["verdict"] for a in report["attempts"]] == ["rejected", "kept"]
    assert report["green"] is True and report["applied"] == 1
    assert [(i["iteration"], i["applied"], i["visible"], i["held_out"]) for i in report["iterations"]] == [
        (1, 0, 3, 1), (2, 1, 7, 1)]
    assert "candidate #1 is applied: of the Pareto set's candidates that break no conversation that passed, it " \
           "passes the most (8/8; visible 7/7, held-out 1/1)" in md


def test_a_seeded_share_holds_out_the_same_conversations_every_time(faulty_spec: Path, tmp_path: Path) -> None:
    _hold_out(faulty_spec, "{share: 0.25, seed: 3}")
    _done, prompts, report, _md = _fix(faulty_spec, [], "--max-iterations", "1")
    assert len(report["holdout"]) == 2  # round(0.25 * 8)
    _done, _prompts, again, _md = _fix(faulty_spec, [], "--max-iterations", "1")
    assert again["holdout"] == report["holdout"]
    for name in report["holdout"]:
        assert all(f"- name: {name}" not in prompt for prompt in prompts)


def test_a_patch_that_fixes_some_and_breaks_others_stays_in_the_pareto_set_unapplied(faulty_spec: Path) -> None:
    original = faulty_spec.read_text()
    done, _prompts, report, md = _fix(faulty_spec, [BREAKS_ONE], "--max-iterations", "2")
    assert done.returncode == 1
    assert faulty_spec.read_text() == original
    first = report["attempts"][0]
    assert first["candidate"] == 1 and first["reason"].endswith(
        "(kept as candidate #1 of the Pareto set, never applied)")
    pareto = {c["id"]: c for c in report["pareto"]}
    assert set(pareto) == {0, 1}
    assert PAIN in pareto[0]["best_on"]
    assert pareto[1]["broke"] == [PAIN] and len(pareto[1]["best_on"]) == 7
    assert report["applied"] == 0
    assert report["applied_reason"].startswith("the spec is unchanged: no candidate fixed a conversation without "
                                               "breaking one that passed; also in the Pareto set: #1 (best on 7 "
                                               "conversation(s), breaks")
    assert "Candidate #1, not applied:" in md and '+  - {from: qualify, to: ask_pain, when: "state.stage ==' in md


def test_a_caller_may_override_the_holdout_through_the_python_api(faulty_spec: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "mock")

    async def run_tests(path: Path) -> Any:
        return await arun_spec(path, model="scripted")

    with MockLLMServer({"queue": [BREAKS_ONE], "default": USELESS}) as server:
        settings: Any = {"provider": "openai", "model": "patcher", "base_url": server.base_url, "api_key_env": None,
                         "temperature": None, "max_tokens": None, "timeout_s": 30, "max_retries": 0,
                         "streaming": False}

        def fix(holdout: list[str]) -> Any:
            return asyncio.run(fix_spec(faulty_spec, patcher=Patcher(make_chat_model(settings)), run_tests=run_tests,
                                        schema=spec_json_schema(), max_iterations=1, dry_run=True, holdout=holdout))

        with pytest.raises(UserError, match=r"holdout names no conversation and no tag: \['no such thing'\]"):
            fix(["no such thing"])
        outcome = fix([PAIN])
    assert outcome.holdout == [PAIN]
    assert outcome.attempts[0].reason.startswith(f"breaks held-out conversations that passed: [{PAIN!r}]")


def test_the_command_line_holdout_overrides_the_spec(faulty_spec: Path) -> None:
    """`--holdout NAME` holds the pain conversation out although the spec says nothing: the patch that
    breaks it is refused, as with `fix.holdout`."""
    done, prompts, report, _md = _fix(faulty_spec, [BREAKS_ONE], "--max-iterations", "1", "--holdout", PAIN)
    assert done.returncode == 1, done.stderr
    assert report["holdout"] == [PAIN] and PAIN not in prompts[0]
    assert report["attempts"][0]["reason"].startswith(f"breaks held-out conversations that passed: [{PAIN!r}]")


@pytest.mark.parametrize(("values", "message"), [
    (["no such thing"], "holdout names no conversation and no tag: ['no such thing']"),
    (["0.3", "budget"], "--holdout takes names and tags, or one share"),
    (["1.5"], "a share is a number between 0 and 1"),
    (["0.3:x"], "a share is a number between 0 and 1"),
])
def test_a_bad_command_line_holdout_is_a_usage_error(faulty_spec: Path, values: list[str], message: str) -> None:
    flags = [part for value in values for part in ("--holdout", value)]
    done = subprocess.run([sys.executable, "-m", "factory", "fix", str(faulty_spec), "--runner", "inprocess", *flags],
                          capture_output=True, text=True, env={**os.environ, "FACTORY_MODEL": "scripted",
                                                               "OPENAI_API_KEY": "mock"}, timeout=120, check=False)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
