"""The local model through the real `ChatOpenAI` client and through the factory's own verbs."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

from local_model_support import SPECS, CliRunner

from graphs.events import EndEvent, ErrorEvent, StateEvent, TokenEvent, ToolEvent, parse_event

QUESTION = "Hi, I'm Ana from Acme and we want 12 seats. Can we meet?"


def _client(server: Any, **options: Any) -> Any:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model="local", base_url=server.base_url, api_key="local", temperature=0, **options)


def test_tokens_stream_one_by_one_through_chat_openai(local_server: Any) -> None:
    async def stream() -> list[tuple[float, str]]:
        model = _client(local_server, max_tokens=40, streaming=True)
        return [(time.monotonic(), chunk.text) async for chunk in
                model.astream("Count from one to twenty in words, separated by commas.") if chunk.text]

    pieces = asyncio.run(stream())
    assert len(pieces) >= 10, pieces
    assert pieces[0][0] < pieces[-1][0]  # the first token was there before the last was written
    assert len({t for t, _ in pieces}) > len(pieces) // 2  # pieces arrive apart, not in one burst


def test_apostrophes_survive_the_round_trip(local_server: Any) -> None:
    """The model copies what it reads: had it read `I&#39;m` (llama-cpp-python's own tool format escapes
    HTML), the echo would carry the entity."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from graphs.models._llama_chat import render_chatml

    sentence = "I'm Ana, and it's O'Brien's café."
    assert sentence in render_chatml([{"role": "user", "content": sentence}])
    model = _client(local_server, max_tokens=24)
    answer = model.invoke([SystemMessage("You are a helpful assistant."), HumanMessage(f"Repeat exactly: {sentence}")])
    assert "&#" not in answer.text and "&amp;" not in answer.text, answer.text
    assert "'" in answer.text and ("I'm" in answer.text or "O'Brien" in answer.text), answer.text


def _events(stdout: str) -> list[Any]:
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return [parse_event(line["event"], line["data"]) for line in lines]


def test_extract_classify_and_an_agent_tool_call_through_factory_run(factory: CliRunner) -> None:
    done = factory("run", str(SPECS / "desk.yaml"), QUESTION, "--model", "local", "--json",
                   "--checkpointer", "memory")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    events = _events(done.stdout)
    assert not [e for e in events if isinstance(e, ErrorEvent)], events
    (state,) = [e for e in events if isinstance(e, StateEvent)]
    slots = state.to_data()
    # extract: schema-valid values (grammar-constrained), classify: one of its labels
    assert slots.get("company") is None or isinstance(slots["company"], str)
    assert slots.get("seats") is None or (isinstance(slots["seats"], int) and not isinstance(slots["seats"], bool))
    assert slots.get("company") or slots.get("seats"), slots  # it recorded something the message states
    assert slots["topic"] in ("billing", "sales", "other")
    # agent: the tool call reached the python function, whose answer says so
    (tool,) = [e for e in events if isinstance(e, ToolEvent)]
    assert tool.name == "book_meeting" and tool.result["by"] == "desk_tools.book_meeting"
    assert isinstance(tool.args.get("company"), str)
    end = events[-1]
    assert isinstance(end, EndEvent) and end.reply.strip()
    assert [e for e in events if isinstance(e, TokenEvent)]


def test_the_judge_returns_a_verdict(factory: CliRunner, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = factory("test", str(SPECS / "desk.yaml"), "--model", "local", "--json", str(report))
    assert done.returncode in (0, 1), done.stderr  # a verdict either way; never a crash
    data = json.loads(report.read_text())
    judged = [e for report in data["reports"] for result in report["results"] for attempt in result["attempts"]
              for turn in attempt["turns"] for e in turn["expectations"] if e["kind"] == "judge"]
    assert judged, data
    for verdict in judged:  # the model called `verdict` (grammar-constrained): a boolean and a reason
        assert "did not call" not in verdict["message"] and "judge model failed" not in verdict["message"], verdict
        assert isinstance(verdict["passed"], bool) and verdict["seen"]["reason"], verdict


def test_fix_with_the_local_patcher_runs_to_its_caps(factory: CliRunner, tmp_path: Path) -> None:
    work = tmp_path / "spec"
    work.mkdir()
    shutil.copy(SPECS / "broken.yaml", work / "broken.yaml")
    before = (work / "broken.yaml").read_text()
    report = tmp_path / "fix-report"
    done = factory("fix", str(work / "broken.yaml"), "--model", "scripted", "--patcher-model", "local",
                   "--runner", "inprocess", "--max-iterations", "1", "--report", str(report), timeout=900)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    outcome = json.loads(report.with_suffix(".json").read_text())
    assert report.with_suffix(".md").is_file()
    assert outcome["passed_after"] >= outcome["passed_before"]  # a regressing patch is never kept
    if outcome["passed_after"] == outcome["passed_before"]:
        assert (work / "broken.yaml").read_text() == before  # nothing kept, nothing written


def test_the_local_model_plays_a_simulated_user(factory: CliRunner, tmp_path: Path) -> None:
    """The sales spec's simulated conversation with every model local, the user included. Whether the
    lead gets qualified is recorded (printed and in the JSON report), not asserted: the 135M model is no
    salesman. What must hold: the model, not the offline script, wrote the user's lines, it wrote at
    least one, and the conversation ended for a reason the runner knows, with no crash."""
    report = tmp_path / "simulated.json"
    spec = Path(__file__).resolve().parents[2] / "specs" / "sales_discovery.yaml"
    done = factory("test", str(spec), "--model", "local", "-k", "simulated", "--json", str(report), timeout=900)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    results = [result for spec_report in json.loads(report.read_text())["reports"] for result in spec_report["results"]]
    assert len(results) == 1, [r["name"] for r in results]
    attempt = results[0]["attempts"][0]
    played = attempt["simulation"]
    assert played["user"] != "scripted" and played["turns"] >= 1, played
    users = [m["text"] for m in attempt["transcript"] if m["role"] == "user"]
    assert users and all(text.strip() for text in users), users
    print(f"simulated lead on the local model: passed={attempt['passed']}, {played['turns']} user turn(s), "
          f"stopped: {played['stopped']}; first line: {users[0][:80]!r}")
