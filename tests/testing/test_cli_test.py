"""`factory test` through the real command line: exit codes, plain output when piped, JSON and JUnit files."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from spec_test_helpers import clean_env, write_mini

from factory.testing import RunReport

FACTORY = Path(sys.executable).parent / "factory"

FAILING = """\
  - name: fails on purpose
    script: {route: [chat], chat: ["Nice weather!"]}
    turns:
      - user: Hi
        expect: [{contains: rain}]
  - name: passes
    tags: [ok]
    script: {route: [chat], chat: ["Nice weather!"]}
    turns:
      - user: Hi
        expect: [{contains: weather}]
"""


def factory(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(FACTORY), "test", *map(str, args)], capture_output=True, text=True, timeout=120,
                          env=clean_env(NO_COLOR="1", COLUMNS="200"))


def test_exit_0_when_all_pass_with_plain_progress_lines(mini: Path) -> None:
    done = factory(mini)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("PASS help is looked up (") and lines[1].startswith("PASS small talk (")
    assert "coverage: nodes 5/6, conditional edges 1/2" in done.stdout
    assert "nodes no conversation visited: escalate" in done.stdout
    assert f"edge never taken: {mini}:28:5: route -> escalate when state.turns > 100" in done.stdout
    assert "2 passed, 0 failed of 2 conversations" in done.stdout


def test_exit_1_names_the_failure_and_writes_reports(tmp_path: Path) -> None:
    spec = write_mini(tmp_path, FAILING)
    out_json, out_xml = tmp_path / "out" / "r.json", tmp_path / "out" / "r.xml"
    done = factory(spec, "--json", out_json, "--junit-xml", out_xml)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL fails on purpose (" in done.stdout
    assert (f"FAILED fails on purpose (attempt 1), turn 1: 'Hi'\n  {spec}:40:18: contains: rain\n"
            "  failed: the reply does not contain 'rain'\n  reply: Nice weather!\n"
            "  path: count > route > chat\n") in done.stdout
    data = json.loads(out_json.read_text())
    assert data["version"] == 1 and data["passed"] is False
    (report,) = [RunReport.model_validate(r) for r in data["reports"]]
    assert [(r.name, r.passed) for r in report.results] == [("fails on purpose", False), ("passes", True)]
    suite = ET.parse(out_xml).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "1")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["fails on purpose", "passes"]
    failure = cases[0].find("failure")
    assert failure is not None and cases[1].find("failure") is None
    assert failure.get("message") == "0/1 attempts passed (needs 100%): the reply does not contain 'rain'"
    assert "path: count > route > chat" in (failure.text or "")


def test_filters_select_conversations(tmp_path: Path) -> None:
    spec = write_mini(tmp_path, FAILING)
    assert factory(spec, "--tag", "ok").returncode == 0
    assert factory(spec, "-k", "passes").returncode == 0
    assert factory(spec, "-k", "on purpose").returncode == 1


def test_exit_5_when_nothing_matches(mini: Path) -> None:
    done = factory(mini, "-k", "no such conversation")
    assert done.returncode == 5
    assert "no conversation matched -k 'no such conversation'" in done.stderr


def test_exit_5_for_a_spec_without_conversations(tmp_path: Path) -> None:
    spec = write_mini(tmp_path, "  []\n")
    done = factory(spec)
    assert done.returncode == 5, done.stdout + done.stderr


def test_exit_3_for_an_invalid_spec(tmp_path: Path) -> None:
    spec = write_mini(tmp_path)
    spec.write_text(spec.read_text().replace("visited: [count, fetch, help]", "visited: [count, fecth, help]"))
    done = factory(spec)
    assert done.returncode == 3
    assert "visited names unknown node 'fecth'" in done.stderr


def test_exit_2_for_an_unknown_target_or_an_unreachable_server(mini: Path) -> None:
    done = factory(mini, "--target", "nowhere")
    assert done.returncode == 2 and "unknown --target 'nowhere'" in done.stderr
    done = factory(mini, "--target", "http://127.0.0.1:9")
    assert done.returncode == 2 and "cannot reach the agent server at http://127.0.0.1:9" in done.stderr


def test_repeat_option(mini: Path) -> None:
    done = factory(mini, "--repeat", "2", "-j", "3")
    assert done.returncode == 0
    assert "PASS small talk [2/2] (" in done.stdout
    assert "(4/4 attempts" in done.stdout


def test_an_unwritable_report_path_is_a_usage_error(tmp_path: Path) -> None:
    spec = write_mini(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = factory(spec, "--json", blocker / "report.json")
    assert done.returncode == 2
    assert "cannot write the report" in done.stderr and "Traceback" not in done.stderr


SIMULATED = """\
  - name: a simulated user asks for help
    simulate:
      persona: A customer with a gold account.
      goal: Get help with the account.
      stop_when: state.topic == "help"
    script:
      user: ["Help me with my account"]
      route: [help]
      help: ["Your gold account is fine."]
    each_turn: [{not_contains: sorry}]
    at_end: [{visited: [fetch, help]}, {contains: gold}]
"""


def test_the_transcript_of_a_simulated_conversation_is_in_every_report(tmp_path: Path) -> None:
    spec = write_mini(tmp_path, SIMULATED)
    out_json, out_xml = tmp_path / "r.json", tmp_path / "r.xml"
    done = factory(spec, "--json", out_json, "--junit-xml", out_xml)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = ["  ~ user: Help me with my account", "  ~ agent: Your gold account is fine.",
             "    (simulated user: scripted; 1 simulated turn(s); stopped: stop_when)"]
    assert "pass transcript of a simulated user asks for help:\n" + "\n".join(lines) in done.stdout
    (report,) = [RunReport.model_validate(r) for r in json.loads(out_json.read_text())["reports"]]
    (attempt,) = report.results[0].attempts
    assert [(m.role, m.text) for m in attempt.transcript] == [
        ("user", "Help me with my account"), ("assistant", "Your gold account is fine.")]
    assert attempt.simulation is not None and attempt.simulation.stopped == "stop_when"
    case = ET.parse(out_xml).getroot().find("testsuite/testcase")
    assert case is not None
    assert case.findtext("system-out") == "attempt 1:\n" + "\n".join(lines)


def test_usage_errors_of_the_new_options(mini: Path) -> None:
    bad_protocol = factory(mini, "--target", "http://127.0.0.1:9", "--protocol", "carrier-pigeon")
    assert bad_protocol.returncode == 2 and "unknown --protocol 'carrier-pigeon'" in bad_protocol.stderr
    score_alone = factory(mini, "--min-score", "0.5")
    assert score_alone.returncode == 2 and "--min-score goes with --mutate" in score_alone.stderr
    elsewhere = factory(mini, "--mutate", "--target", "local")
    assert elsewhere.returncode == 2 and "--mutate runs the mutants in-process" in elsewhere.stderr
