"""The agents `factory build` writes run unchanged on LangGraph's own server, and the factory's client
speaks its Agent Server API: `factory test --target <langgraph dev URL>` gives the verdicts the
in-process run gives, scripts included (kept across the turns of a thread, which are separate runs
there); `factory chat --url` chats with it; a cancelled turn leaves no trace."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langgraph_dev_support import ROOT, SPECS, build_context, langgraph_dev

from factory.client import AgentServerClient, ClientError, Remote
from factory.errors import UserError
from factory.testing import RunReport, run_spec
from graphs.events import EndEvent, MetadataEvent, StateEvent, TokenEvent

FACTORY = str(Path(sys.executable).parent / "factory")


def _verdicts(report: RunReport) -> list[tuple[Any, ...]]:
    """Everything a conversation showed, turn by turn, but timings and thread ids."""
    return [(r.name, r.passed, a.attempt, t.index, t.path, t.reply, t.interrupted, t.state,
             [(c.name, c.args, c.result) for c in t.tools], [(e.kind, e.passed, e.message) for e in t.expectations])
            for r in report.results for a in r.attempts for t in a.turns]


def _factory(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    variables = {k: v for k, v in os.environ.items() if not k.startswith(("FACTORY_", "OPENAI_"))}
    return subprocess.run([FACTORY, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**variables, "COLUMNS": "200", **env}, check=False)


def test_factory_test_gives_the_in_process_verdicts(sales_in_test_mode: str, tmp_path: Path) -> None:
    spec = SPECS / "sales_discovery.yaml"
    done = _factory("test", str(spec), "--target", sales_in_test_mode, "--json", str(tmp_path / "lg.json"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (remote,) = (RunReport.model_validate(r) for r in json.loads((tmp_path / "lg.json").read_text())["reports"])
    local = run_spec(spec)
    assert remote.target == sales_in_test_mode
    assert _verdicts(remote) == _verdicts(local)
    assert remote.coverage == local.coverage
    assert sum(len(a.turns) for r in remote.results for a in r.attempts) > len(remote.results), "multi-turn"
    turns = [t for r in remote.results for a in r.attempts for t in a.turns]
    assert all(t.total_ms is not None and t.first_token_ms is not None and t.first_token_ms <= t.total_ms
               for t in turns)


def test_interrupts_subgraphs_and_scripts_across_turns(lg_venv: Path, tmp_path: Path) -> None:
    """onboarding: questions asked by `interrupt` nodes and answered by the next run, a sub-spec, and a
    script whose entries are consumed over several turns (each a separate run on LangGraph's server)."""
    spec = SPECS / "onboarding.yaml"
    context = build_context(spec, tmp_path)
    with langgraph_dev(lg_venv, context) as url:
        remote = run_spec(spec, target=url)
    local = run_spec(spec)
    assert _verdicts(remote) == _verdicts(local)
    assert remote.passed
    interrupted = [t for r in remote.results for a in r.attempts for t in a.turns if t.interrupted]
    assert interrupted and all(t.reply for t in interrupted)


def test_a_server_not_in_test_mode_refuses_scripts(sales_in_production: str) -> None:
    with pytest.raises(UserError, match="refused the test's script and mocks") as caught:
        run_spec(SPECS / "sales_discovery.yaml", target=sales_in_production)
    assert "FACTORY_TEST_MODE=1" in (caught.value.hint or "")


def test_a_server_running_another_agent_is_refused(sales_in_production: str) -> None:
    with pytest.raises(UserError, match=r"serves the agent\(s\) 'sales-discovery', not 'onboarding'"):
        run_spec(SPECS / "onboarding.yaml", target=sales_in_production)


def test_piped_chat_finds_the_agent_server_keeps_the_thread_and_draws_the_graph(sales_in_production: str) -> None:
    done = _factory("chat", "--url", sales_in_production,
                    stdin="hi\nmore\n/state\n/graph\n/thread t-42\nrefused\n/new\nagain\n")
    assert done.returncode == 1, done.stderr  # piped, a turn failed (the refused thread id)
    lines = done.stdout.splitlines()
    reply = "[scripted model: no script for node 'ask_company'] You said: {}"
    assert lines[:2] == [reply.format("hi"), reply.format("more")]
    assert json.loads(lines[2])["turns"] == 2, "the second line continued the first line's thread"
    assert lines[3] == "flowchart TD" and "  factory_seed --> count_turn" in lines
    assert "cannot switch to" not in done.stderr  # `t-42` is a factory thread id: the server is the judge
    assert "the server refused the thread id 't-42'" in done.stderr and "UUID" in done.stderr
    assert lines[-1].endswith("You said: again"), "the chat went on after the refused thread"
    assert "Traceback" not in done.stderr


def test_the_protocol_can_be_named_and_a_wrong_one_is_explained(sales_in_production: str) -> None:
    done = _factory("chat", "--url", sales_in_production, "--protocol", "sse", stdin="hi\n")
    assert done.returncode == 2
    assert "is not a factory server (GET /ready answered 404)" in done.stderr
    assert "--protocol agent-server" in done.stderr
    named = _factory("chat", "--url", sales_in_production, "--protocol", "agent-server", stdin="hi\n")
    assert named.returncode == 0 and named.stdout.endswith("You said: hi\n"), named.stderr


def test_a_cancelled_turn_leaves_no_trace(sales_in_production: str) -> None:
    """Cancelling the task reading a turn, then `cancel()`, rolls the run back: the thread is as before."""

    async def go() -> tuple[dict[str, Any] | None, list[Any]]:
        async with Remote(sales_in_production, protocol="agent-server") as client:
            assert isinstance(client, AgentServerClient)
            first = [e async for e in client.turn("one")]
            thread = first[0].thread_id
            seen = asyncio.Event()

            async def read() -> None:
                async for event in client.turn("a long message " * 10, thread_id=thread):
                    if isinstance(event, TokenEvent):
                        seen.set()

            task = asyncio.create_task(read())
            await asyncio.wait_for(seen.wait(), 30)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await client.cancel()
            after_cancel = await client.state(thread)
            third = [e async for e in client.turn("three", thread_id=thread)]
            return after_cancel, [first, third]

    after_cancel, (first, third) = asyncio.run(go())
    assert isinstance(first[0], MetadataEvent) and isinstance(first[-1], EndEvent)
    assert after_cancel is not None and after_cancel["turns"] == 1
    (state,) = [e for e in third if isinstance(e, StateEvent)]
    assert state.values["turns"] == 2
    assert third[-1].reply.endswith("You said: three")  # type: ignore[union-attr]


def test_an_agent_server_url_that_answers_nothing_is_a_clear_error() -> None:
    from langgraph_dev_support import free_port

    async def go() -> None:
        async with Remote(f"http://127.0.0.1:{free_port()}"):
            pass

    with pytest.raises(ClientError, match="cannot reach the agent server") as caught:
        asyncio.run(go())
    assert caught.value.kind == "unreachable" and caught.value.hint


def test_langgraph_build_installs_the_context_as_a_package(lg_venv: Path, tmp_path: Path) -> None:
    """`langgraph dockerfile` (what `langgraph build` builds from) accepts the generated langgraph.json and
    installs the folder with its pyproject (not requirements.txt, whose server pins clash with langgraph-api)."""
    context = build_context(SPECS / "sales_discovery.yaml", tmp_path)
    done = subprocess.run([str(lg_venv / "bin" / "langgraph"), "dockerfile", "Dockerfile.langgraph"], cwd=context,
                          capture_output=True, text=True, timeout=120, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANGGRAPH_CLI_NO_ANALYTICS": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    dockerfile = (context / "Dockerfile.langgraph").read_text()
    assert "ADD . /deps/sales-discovery" in dockerfile
    assert "-e /deps/*" in dockerfile or "-e ." in dockerfile
    assert '"sales-discovery": "/deps/sales-discovery/agent_graph.py:make_graph"' in dockerfile
    assert "requirements.txt" not in dockerfile
