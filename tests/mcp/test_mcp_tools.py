"""MCP tools in a plan (`graphs.mcp`): a real FastMCP server over stdio and over streamable HTTP.

The plan is compiled from a spec and given its `mcp_servers` and `mcp` tools here, so these tests
exercise the runtime alone; the spec language's own checks are tested in `tests/language/`.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from factory.compiler import compile_plan
from factory.language.loader import load_spec
from graphs.agent import Agent
from graphs.errors import AgentConfigError
from graphs.events import EndEvent, ErrorEvent, ToolEvent

SERVER = Path(__file__).with_name("weather_server.py")
SPEC = """\
spec: 1
name: weather-bot
models: {main: {provider: scripted}}
state:
  weather: {type: object}
tools:
  placeholder: {description: replaced by the test, returns: 1}
nodes:
  look: {kind: tool, tool: placeholder, args: {city: "'Paris'"}, into: weather}
  answer: {kind: agent, prompt: Answer about the weather., tools: [placeholder]}
edges:
  - {from: start, to: look}
  - {from: look, to: answer}
  - {from: answer, to: end}
"""


def _plan(tmp_path: Path, server: dict[str, Any], tool: str = "forecast") -> Any:
    (tmp_path / "spec.yaml").write_text(SPEC)
    plan = compile_plan(load_spec(tmp_path / "spec.yaml"))
    plan["mcp_servers"] = {"weather": server}
    plan["tools"] = {"forecast": {"form": "mcp", "mcp": f"weather/{tool}", "description": "The weather.",
                                  "parameters": None}}
    plan["nodes"]["look"]["tool"] = "forecast"
    plan["nodes"]["answer"]["tools"] = ["forecast"]
    return plan


def _stdio(**extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [str(SERVER), "stdio"], "env": [], **extra}


async def _turn(plan: Any, folder: Path, script: dict[str, Any] | None = None) -> list[Any]:
    async with Agent.open(plan, checkpointer="memory", base_dir=folder) as agent:
        return [e async for e in agent.turn("Weather?", thread_id=uuid.uuid4().hex, script=script or {})]


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(SERVER), "http", str(port)], stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(10)


AGENT_SCRIPT = {"answer": [{"tool_calls": [{"name": "forecast", "args": {"city": "Oslo"}}]}, "Sunny tomorrow."]}


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_tool_and_agent_nodes_call_the_mcp_tool(tmp_path: Path, transport: str, request: pytest.FixtureRequest) -> None:
    server = _stdio() if transport == "stdio" else {"url": request.getfixturevalue("http_server")}
    events = asyncio.run(_turn(_plan(tmp_path, server), tmp_path, AGENT_SCRIPT))
    assert isinstance(events[-1], EndEvent), events[-1]
    tools = [e for e in events if isinstance(e, ToolEvent)]
    assert [t.args for t in tools] == [{"city": "Paris"}, {"city": "Oslo"}]
    assert tools[0].result == {"city": "Paris", "sky": "sunny", "high_c": 21}
    assert tools[1].result["city"] == "Oslo"  # the agent's call reached the server and came back
    assert events[-1].reply == "Sunny tomorrow."


def test_a_stdio_server_runs_in_the_spec_folder_with_only_the_named_variables(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEATHER_TOKEN", "t0ken")
    monkeypatch.setenv("UNRELATED_SECRET", "leak")
    plan = _plan(tmp_path, _stdio(env=["WEATHER_TOKEN"]), tool="environment")
    plan["nodes"]["look"]["args"] = {}
    events = asyncio.run(_turn(plan, tmp_path, {"answer": ["ok"]}))
    (seen,) = [e.result for e in events if isinstance(e, ToolEvent)]
    assert Path(seen["cwd"]).resolve() == tmp_path.resolve()
    # the named variable, plus only the basics the `mcp` SDK always passes (PATH, HOME, ...): no secret
    from mcp.client.stdio import DEFAULT_INHERITED_ENV_VARS

    assert "WEATHER_TOKEN" in seen["names"] and "UNRELATED_SECRET" not in seen["names"]
    assert set(seen["names"]) <= {"WEATHER_TOKEN", *DEFAULT_INHERITED_ENV_VARS, "LC_CTYPE"}, seen["names"]


def test_a_tool_that_errors_is_a_tool_error_event(tmp_path: Path) -> None:
    plan = _plan(tmp_path, _stdio(), tool="broken")
    events = asyncio.run(_turn(plan, tmp_path))
    assert isinstance(events[-1], ErrorEvent) and events[-1].code == "tool_error"
    assert "weather service is down for Paris" in events[-1].message


def test_mocked_mcp_tools_need_no_call(tmp_path: Path) -> None:
    plan = _plan(tmp_path, _stdio())
    mocks = {"forecast": {"sky": "mocked"}}

    async def run() -> list[Any]:
        async with Agent.open(plan, checkpointer="memory", base_dir=tmp_path) as agent:
            return [e async for e in agent.turn("Weather?", thread_id=uuid.uuid4().hex, script=AGENT_SCRIPT,
                                                mocks=mocks)]

    events = asyncio.run(run())
    assert [e.result for e in events if isinstance(e, ToolEvent)] == [{"sky": "mocked"}] * 2


@pytest.mark.parametrize("server", [
    {"command": "/nonexistent/weather-server", "args": [], "env": []},
    {"command": sys.executable, "args": ["-c", "import sys; sys.exit(3)"], "env": []},
])
def test_a_server_that_cannot_start_stops_the_agent_start_clearly(tmp_path: Path, server: dict[str, Any]) -> None:
    with pytest.raises(AgentConfigError, match="MCP server 'weather' failed to start"):
        asyncio.run(_turn(_plan(tmp_path, server), tmp_path))


def test_a_tool_the_server_does_not_list_is_named(tmp_path: Path) -> None:
    with pytest.raises(AgentConfigError, match="has no tool 'nope'.*forecast"):
        asyncio.run(_turn(_plan(tmp_path, _stdio(), tool="nope"), tmp_path))


def test_command_python_is_the_agents_own_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`command: python` starts even when no `python` is on PATH (a venv not activated, the image)."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    server = {"command": "python", "args": [str(SERVER), "stdio"], "env": []}
    events = asyncio.run(_turn(_plan(tmp_path, server), tmp_path, AGENT_SCRIPT))
    assert isinstance(events[-1], EndEvent), events[-1]
    assert [e.result["city"] for e in events if isinstance(e, ToolEvent)] == ["Paris", "Oslo"]
