"""The core flow from Node with the official JS client (`@langchain/langgraph-sdk`, pinned in
`js/package.json`, installed by `npm ci` from the committed lock). Skipped without node and npm,
unless FACTORY_REQUIRE_NODE=1."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _serve import Served
from real_parts import unavailable

from factory.mockllm import MockLLMServer

JS = Path(__file__).parent / "js"
WORDS = " ".join(f"w{i}" for i in range(24))


def _unavailable(reason: str) -> None:
    unavailable("FACTORY_REQUIRE_NODE", reason)


@pytest.fixture(scope="module")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are needed for the JS client test")
    assert node is not None and npm is not None
    installed = JS / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < (JS / "package-lock.json").stat().st_mtime:
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True, text=True,
                              timeout=600, check=False)
        if done.returncode != 0:
            _unavailable(f"`npm ci` failed in {JS}: {done.stderr[-1500:]}")
    return node


def test_the_js_client_does_the_core_flow(node: str, chat_server: Served, model: MockLLMServer) -> None:
    model.set_script({"default": {"text": WORDS, "token_delay_ms": 30}})
    done = subprocess.run([node, "flow.mjs", chat_server.url, "chat-bot"], cwd=JS, capture_output=True, text=True,
                          timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out: dict[str, Any] = json.loads(done.stdout)
    assert out["events"][0] == "metadata" and out["created"]["run_id"] == out["metadata"]["run_id"]
    assert out["created"]["thread_id"] and "".join(out["tokens"]) == WORDS and len(out["tokens"]) == 24
    assert out["tokenSpreadMs"] > 23 * 30 * 0.5, "tokens arrive one by one"
    assert out["tokenIds"] == [out["lastValues"]["messages"][-1]["id"]]
    assert out["lastValues"]["messages"][0]["content"] == "hi from node"  # text blocks reach the agent
    assert out["stateValues"]["turns"] == 1 and out["historyCheckpoints"][0] == out["stateCheckpoint"]["checkpoint_id"]
    assert out["foundThread"] is True and out["threadStatus"] == "idle"
    assert out["busy"] == 409
    assert out["joined"]["turns"] == 2 and out["runStatus"] == "success"
    assert out["replayIds"] == [str(i) for i in range(len(out["replayIds"]))] and "".join(out["replayTokens"]) == WORDS
    assert out["cancelledStatus"] == "interrupted" and out["unchanged"] is True
    assert out["unknownAssistant"] == 404
