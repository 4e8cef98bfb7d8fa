"""`factory validate --online` (`factory.language.mcp_checks`): the spec's MCP servers are started
for real (the example's FastMCP server over stdio, a server that cannot start) and the tool names
are checked against what they list, with line:column like every spec problem. Offline validation
starts nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "specs" / "weather_agent.yaml"


def factory(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "factory", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def _example(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    shutil.copy(ROOT / "specs" / "weather_mcp_server.py", tmp_path)
    text = EXAMPLE.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)  # the first: the server's allowlist comes before the nodes
    spec = tmp_path / "weather_agent.yaml"
    spec.write_text(text)
    return spec


def _line_of(spec: Path, fragment: str) -> int:
    return next(n for n, line in enumerate(spec.read_text().splitlines(), 1) if fragment in line)


def test_the_example_passes_online_and_says_what_it_listed() -> None:
    done = factory("validate", "--online", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    assert "online: 1 MCP server, 2 tools listed" in done.stdout


def test_a_tool_the_server_does_not_list_is_reported_at_its_mcp_line(tmp_path: Path) -> None:
    spec = _example(tmp_path, ("tools: [forecast, alerts]", "tools: [forecast, alerts, radar]"),
                    ("mcp: weather/alerts", "mcp: weather/radar"))
    assert factory("validate", str(spec)).returncode == 0  # offline, the names are consistent
    done = factory("validate", "--online", str(spec))
    assert done.returncode == 3, done.stdout
    lines = done.stderr.splitlines()
    allow = _line_of(spec, "tools: [forecast, alerts, radar]")
    tool = _line_of(spec, "mcp: weather/radar")
    assert f"{spec}:{allow}:" in done.stderr and f"{spec}:{tool}:10: tool 'alerts': MCP server 'weather' lists no " \
        "tool 'radar' (it lists alerts, forecast)" in done.stderr, lines
    assert "remove it from mcp_servers.weather.tools or use one of ['alerts', 'forecast']" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_near_miss_gets_a_suggestion_in_json(tmp_path: Path) -> None:
    spec = _example(tmp_path, ("tools: [forecast, alerts]", "tools: [forecast, alerts, forcast]"))
    done = factory("validate", "--online", "--json", str(spec))
    assert done.returncode == 3
    (issue,) = json.loads(done.stdout)["issues"]
    assert issue["line"] == _line_of(spec, "tools: [forecast, alerts, forcast]")
    assert issue["fix"] == "did you mean 'forecast'?"


@pytest.mark.parametrize(("command", "reason"), [
    ("command: python\n    args: [no_such_server.py]", "MCP server 'weather' failed to start"),
    ("command: /nonexistent/weather-server\n    args: []", "MCP server 'weather' failed to start"),
])
def test_a_server_that_cannot_start_is_reported_at_its_name(tmp_path: Path, command: str, reason: str) -> None:
    spec = _example(tmp_path, ("command: python\n    args: [weather_mcp_server.py]", command))
    done = factory("validate", "--online", str(spec))
    assert done.returncode == 3
    assert f"{spec}:{_line_of(spec, '  weather:')}:3: {reason}" in done.stderr, done.stderr
    assert "fix: check that" in done.stderr and "Traceback" not in done.stderr


def test_offline_validation_starts_no_server(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    (tmp_path / "weather_mcp_server.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    spec = tmp_path / "weather_agent.yaml"
    spec.write_text(EXAMPLE.read_text())
    assert factory("validate", str(spec)).returncode == 0
    assert not marker.exists()
    factory("validate", "--online", str(spec))
    assert marker.exists()  # the check above can fail: --online does start it
