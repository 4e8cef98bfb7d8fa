"""The same conversations give the same verdicts in-process and against `factory serve` over SSE."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from spec_test_helpers import clean_env, write_mini
from test_example_specs import EXAMPLES

from factory.errors import UserError
from factory.runners import free_port
from factory.testing import RunReport, run_spec

FACTORY = Path(sys.executable).parent / "factory"



@contextmanager
def served(spec: Path, *, test_mode: bool = True) -> Iterator[str]:
    """`factory serve SPEC [--test-mode] --model scripted` on a free 127.0.0.1 port, until /ready answers."""
    port = free_port()
    args = [str(FACTORY), "serve", str(spec), "--model", "scripted", "--checkpointer", "memory",
            "--host", "127.0.0.1", "--port", str(port)]
    if test_mode:
        args.append("--test-mode")
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=clean_env(FACTORY_TEST_MODE=""))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log = process.stdout.read() if process.stdout else ""
                pytest.fail(f"factory serve exited with {process.returncode}:\n{log}")
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("factory serve did not become ready within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def verdicts(report: RunReport) -> list[tuple[object, ...]]:
    return [(r.name, r.passed, a.attempt, t.index, t.path, t.reply,
             [(e.kind, e.passed, e.message) for e in t.expectations])
            for r in report.results for a in r.attempts for t in a.turns]


@pytest.mark.parametrize("spec", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_same_verdicts_in_process_and_over_sse(spec: Path) -> None:
    local = run_spec(spec)
    with served(spec) as url:
        remote = run_spec(spec, target=url, jobs=4)
    assert remote.target == url
    assert verdicts(remote) == verdicts(local)
    assert remote.coverage == local.coverage
    turns = [t for r in remote.results for a in r.attempts for t in a.turns]
    assert all(t.total_ms is not None for t in turns)
    assert all(t.first_token_ms <= t.total_ms for t in turns if t.first_token_ms is not None and t.total_ms)
    assert [t.first_token_ms is None for t in turns] == [t.reply == "" for t in turns]


def test_same_failures_over_sse(tmp_path: Path) -> None:
    spec = write_mini(tmp_path, """\
  - name: fails on purpose
    script: {route: [help], help: ["Your gold account is fine."]}
    mocks: {lookup: {tier: silver}}
    turns:
      - user: Help me
        expect:
          - state: {info: {tier: gold}}
          - tool_called: {name: lookup}
""")
    local = run_spec(spec)
    with served(spec) as url:
        remote = run_spec(spec, target=url)
    assert verdicts(remote) == verdicts(local)
    (failure,) = remote.failures()
    assert failure.expectation.message == "state.info.tier is 'silver', expected 'gold'"
    assert failure.tools[0].result == {"tier": "silver"}


def test_a_production_server_refuses_scripts(mini: Path) -> None:
    with served(mini, test_mode=False) as url, pytest.raises(UserError, match=r"refused the test's script"):
        run_spec(mini, target=url)


def test_a_server_running_another_agent_is_refused(mini: Path) -> None:
    other = Path(__file__).resolve().parents[2] / "specs" / "support_triage.yaml"
    with served(other) as url, pytest.raises(UserError, match=r"serves the agent 'support-triage', not 'mini'"):
        run_spec(mini, target=url)


def test_a_malformed_url_is_a_usage_error(mini: Path) -> None:
    done = subprocess.run([str(FACTORY), "test", str(mini), "--target", "http://[::1"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2 and "is not a valid URL" in done.stderr and "Traceback" not in done.stderr


def test_protocol_option_reaches_the_client(mini: Path) -> None:
    def cli(url: str, protocol: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(FACTORY), "test", str(mini), "--target", url, "--protocol", protocol],
                              capture_output=True, text=True, timeout=120, check=False,
                              env=clean_env(NO_COLOR="1", COLUMNS="200"))

    def threads(url: str) -> int:  # threads the Agent Server API made (its clients create them first)
        return len(httpx.post(f"{url}/threads/search", json={"limit": 100}, timeout=10).json())

    with served(mini) as url:
        over_ws = cli(url, "ws")
        after_ws = threads(url)
        as_agent_server = cli(url, "agent-server")
        after_agent_server = threads(url)
    # a factory server also speaks the Agent Server API (test fixtures in `config.configurable`)
    for done in (over_ws, as_agent_server):
        assert done.returncode == 0, done.stdout + done.stderr
        assert "2 passed, 0 failed of 2 conversations" in done.stdout
    assert (after_ws, after_agent_server) == (0, 2)  # the option chose the protocol
