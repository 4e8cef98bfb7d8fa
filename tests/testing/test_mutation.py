"""`factory test --mutate`: a suite that misses a retargeted edge lets that mutant survive (reported at its line,
with its diff); one more conversation kills it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from spec_test_helpers import clean_env

from factory.language.loader import load_spec
from factory.testing.mutation import run_mutation

FACTORY = Path(sys.executable).parent / "factory"

TRIAGE = """\
spec: 1
name: triage
models: {main: {provider: scripted}}
state:
  topic: {type: string}
nodes:
  route: {kind: classify, prompt: Pick what the user wants., labels: {help: needs help, chat: small talk}, into: topic}
  help: {kind: reply, prompt: Help the user. Be brief.}
  chat: {kind: reply, prompt: Chat with the user.}
edges:
  - {from: start, to: route}
  - {from: route, to: help, when: 'state.topic == "help"'}
  - {from: route, to: chat, when: 'state.topic == "chat"'}
  - {from: route, to: chat}
  - {from: help, to: end}
  - {from: chat, to: end}
tests:
  - name: help is given
    script: {route: [help], help: ["Here is some help."]}
    turns:
      - user: Help me
        expect: [{visited: [help]}, {contains: help}]
"""
SMALL_TALK = """\
  - name: small talk stays small
    script: {route: [chat], chat: ["Nice weather!"]}
    turns:
      - user: Hi
        expect: [{visited: [chat]}, {not_visited: [help]}]
"""
RETARGET = """route -> chat (when state.topic == "chat") now leads to help"""


def mutate(spec: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = spec.with_suffix(".mutation.json")
    out.unlink(missing_ok=True)
    done = subprocess.run([str(FACTORY), "test", str(spec), "--mutate", "--json", str(out), *args],
                          capture_output=True, text=True, timeout=300, env=clean_env(NO_COLOR="1", COLUMNS="200"))
    return done, json.loads(out.read_text()) if out.exists() else {}


def _by_description(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["description"]: m for m in report["mutants"]}


def test_a_missed_retargeted_edge_survives_then_a_new_conversation_kills_it(tmp_path: Path) -> None:
    spec = tmp_path / "triage.yaml"
    spec.write_text(TRIAGE)
    done, data = mutate(spec, "-j", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    (report,) = data["mutation"]
    survivor = _by_description(report)[RETARGET]
    assert (survivor["operator"], survivor["status"]) == ("retarget_edge", "survived")
    assert (survivor["position"]["line"], survivor["position"]["column"]) == (13, 23)
    assert survivor["position"]["pointer"] == "/edges/2/to"
    assert survivor["diff"].splitlines()[4:6] == [
        """-  - {from: route, to: chat, when: 'state.topic == "chat"'}""",
        """+  - {from: route, to: help, when: 'state.topic == "chat"'}"""]
    assert f"SURVIVED {spec}:13:23: retarget_edge: {RETARGET}" in done.stdout
    assert """+  - {from: route, to: help, when: 'state.topic == "chat"'}""" in done.stdout
    assert report["score"] is not None and report["score"] < 1
    assert f"mutation score: {report['score']:.1%}" in done.stdout

    spec.write_text(TRIAGE + SMALL_TALK)
    done, data = mutate(spec, "-j", "2")  # two worker processes
    assert done.returncode == 0, done.stdout + done.stderr
    (report,) = data["mutation"]
    killed = _by_description(report)[RETARGET]
    assert (killed["status"], killed["killed_by"]) == ("killed", ["small talk stays small"])
    assert killed["detail"] == "node 'chat' was not visited; path: route > help"
    assert report["workers"] == 2
    assert report["counts"]["killed"] > 0


def test_invalid_and_prompt_mutants_are_counted_not_run(tmp_path: Path) -> None:
    spec = tmp_path / "triage.yaml"
    spec.write_text(TRIAGE + SMALL_TALK)
    report = run_mutation(load_spec(spec))
    by = {m.description: m for m in report.mutants}
    removed = by["start -> route removed"]
    assert removed.status == "invalid" and removed.detail == "line 7: nothing reaches node 'route' from `start`"
    dropped = [m for m in report.mutants if m.operator == "drop_prompt_sentence"]
    assert [m.description for m in dropped] == ["nodes/help/prompt: drops 'Help the user.'",
                                                "nodes/help/prompt: drops 'Be brief.'"]
    assert {m.status for m in dropped} == {"not_run"}
    assert "the scripted model ignores prompts" in dropped[0].detail
    ran = report.count("killed") + report.count("survived")
    assert report.score == round(report.count("killed") / ran, 4)
    assert report.count("invalid") + report.count("not_run") + ran == len(report.mutants)


def test_min_score_fails_the_run_and_a_failing_suite_has_no_score(tmp_path: Path) -> None:
    spec = tmp_path / "triage.yaml"
    spec.write_text(TRIAGE)
    done, _ = mutate(spec, "-j", "1", "--min-score", "0.99")
    assert done.returncode == 1
    assert "is below --min-score 0.99" in done.stdout
    spec.write_text(TRIAGE.replace("{contains: help}", "{contains: weather}"))
    done, data = mutate(spec)
    assert done.returncode == 1 and data == {}
    assert "the conversations fail on the spec as it is (1 of 1); a mutation score needs a passing suite" in \
        done.stderr.replace("\n", " ").replace("│", "").replace("  ", " ")
