"""Three replicas on one Postgres behind HAProxy, 120 users talking through it for a minute while one
replica is killed (`kill -9`) and another stopped (SIGTERM), then both started again.

What must hold afterwards, read straight from Postgres: every thread's history is exactly the turns
whose `end` its client received, in order (no acknowledged turn lost, no half turn, no turn twice,
no interleaving: each reply answers the message before it, and the turn counter equals the turns).
Every failure a client saw is clean: an `error` event, a JSON error answer (503 `not_ready` from a
draining replica), a refused connection, or a stream cut by the killed replica while it ran (the
factory's client reports that as `no_end`); every failed turn succeeded when sent again through the
load balancer (with its message id, so a turn that was saved before its stream broke is answered
again, not run twice). The faults must hit the traffic: clients saw failures, or HAProxy (read on
its stats socket) sent requests again. Prometheus, scraping the replicas every second, counts the same turns.

Skipped without HAProxy or Prometheus (Debian packages `haproxy`, `prometheus`) unless
FACTORY_REQUIRE_HAPROXY=1 / FACTORY_REQUIRE_PROMETHEUS=1, and without Postgres unless
FACTORY_REQUIRE_POSTGRES=1. Every port is a free one, so it runs beside other tests.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _chaos import (
    Turn,
    attempt,
    balancer_retries,
    conversations,
    percentile,
    prometheus_total,
    read_threads,
    require,
    start_haproxy,
    start_prometheus,
)
from _replicas import Replica, free_port, start_replica

USERS = 120
TURNS_PER_THREAD = 4
LOAD_S = 60.0
KILL_AT, TERM_AT, RESTART_AT = 15.0, 25.0, 35.0
ENV = {"FACTORY_SCRIPTED_TOKEN_DELAY_MS": "20"}
GRACE_S = 5.0


class Faults(threading.Thread):
    """The schedule: kill -9 r0, SIGTERM r1, then start both again on their ports."""

    def __init__(self, replicas: dict[str, Replica], ports: dict[str, int], plan: Path, checkpointer: str) -> None:
        super().__init__(daemon=True)
        self.replicas, self.ports, self.plan, self.checkpointer = replicas, ports, plan, checkpointer
        self.t0 = time.monotonic()
        self.moments: dict[str, float] = {}
        self.problem: BaseException | None = None

    def at(self, moment: float) -> None:
        time.sleep(max(0.0, moment - (time.monotonic() - self.t0)))

    def now(self) -> float:
        return time.monotonic() - self.t0

    def run(self) -> None:
        try:
            self.at(KILL_AT)
            self.replicas["r0"].proc.send_signal(signal.SIGKILL)
            self.moments["kill r0"] = self.now()
            self.replicas["r0"].proc.wait(10)
            self.at(TERM_AT)
            self.replicas["r1"].proc.send_signal(signal.SIGTERM)
            self.moments["sigterm r1"] = self.now()
            self.moments["r1 exit code"] = self.replicas["r1"].proc.wait(GRACE_S + 30)
            self.moments["r1 exited"] = self.now()
            self.at(RESTART_AT)
            with ThreadPoolExecutor(2) as pool:
                started = pool.map(lambda name: start_replica(self.plan, checkpointer=self.checkpointer,
                                                              env=ENV, port=self.ports[name]), ["r0", "r1"])
                self.replicas["r0"], self.replicas["r1"] = list(started)
            self.moments["restarted"] = self.now()
        except BaseException as exc:  # reported by the test
            self.problem = exc


def _figures(turns: list[Turn], faults: Faults) -> dict[str, object]:
    attempts = [a for t in turns for a in t.attempts]
    kill = faults.moments["kill r0"]
    calm = faults.moments.get("restarted", LOAD_S) + 5
    before = [a.first_token_s for a in attempts if a.outcome == "ok" and a.first_token_s is not None
              and a.started < kill]
    during = [a.first_token_s for a in attempts if a.outcome == "ok" and a.first_token_s is not None
              and kill <= a.started < calm]
    ms = lambda v: None if v is None else round(v * 1000, 1)  # noqa: E731
    return {
        "turns": len(turns),
        "acknowledged": sum(t.acknowledged for t in turns),
        "attempts": len(attempts),
        "failed_attempts": sum(a.outcome != "ok" for a in attempts),
        "retried_turns": sum(len(t.attempts) > 1 for t in turns),
        "failures": dict(Counter(a.outcome for a in attempts if a.outcome != "ok")),
        "ttft_ms_before_faults": {"p50": ms(percentile(before, 0.5)), "p99": ms(percentile(before, 0.99)),
                                  "n": len(before)},
        "ttft_ms_during_faults": {"p50": ms(percentile(during, 0.5)), "p99": ms(percentile(during, 0.99)),
                                  "n": len(during)},
        "moments_s": {k: round(v, 2) for k, v in faults.moments.items()},
    }


async def _after_restart(faults: Faults, turns: list[Turn]) -> list[Turn]:
    """One more turn of a conversation on each restarted replica, straight to it: they serve the
    threads the others wrote (the turns join the history check)."""
    import httpx

    more = []
    last_of = {t.thread_id: t for t in turns}
    async with httpx.AsyncClient(timeout=60) as client:
        for name, thread in zip(("r0", "r1"), list(last_of)[:2], strict=True):
            turn = Turn(thread, f"after restart on {name}", uuid.uuid4().hex)
            turn.attempts.append(await attempt(client, faults.replicas[name].url, turn, faults.t0))
            assert turn.acknowledged, (name, turn.attempts)
            more.append(turn)
    return more


def _check_history(turns: list[Turn], plan: Path, checkpointer: str) -> None:
    by_thread: dict[str, list[Turn]] = {}
    for turn in turns:
        by_thread.setdefault(turn.thread_id, []).append(turn)
    stored = read_threads(plan, checkpointer, list(by_thread))
    for thread, sent in by_thread.items():
        acked = [t.text for t in sent if t.acknowledged]
        counter, messages = stored[thread]
        humans = [m.content for m in messages if m.type == "human"]
        assert humans == acked, f"{thread}: stored {humans}, acknowledged {acked}"
        assert len(messages) == 2 * len(acked), f"{thread}: {len(messages)} messages for {len(acked)} turns"
        for question, answer in zip(messages[::2], messages[1::2], strict=True):
            assert question.type == "human" and answer.type == "ai", (thread, question, answer)
            assert answer.text.endswith(f"You said: {question.content}"), (thread, question.content, answer.text)
        assert (counter or 0) == len(acked), f"{thread}: turn counter {counter}, {len(acked)} turns"


@pytest.mark.postgres
def test_replicas_survive_kill_and_sigterm_under_load(postgres: str, slow_plan: Path, tmp_path: Path) -> None:
    haproxy = require("haproxy", "FACTORY_REQUIRE_HAPROXY")
    prometheus = require("prometheus", "FACTORY_REQUIRE_PROMETHEUS")
    plan = json.loads(slow_plan.read_text())
    plan["serve"]["grace_s"] = GRACE_S
    slow_plan.write_text(json.dumps(plan))
    ports = {name: free_port() for name in ("r0", "r1", "r2")}
    with ThreadPoolExecutor(3) as pool:
        replicas = dict(zip(ports, pool.map(
            lambda name: start_replica(slow_plan, checkpointer=postgres, env=ENV, port=ports[name]), ports),
            strict=True))
    lb_port, prom_port = free_port(), free_port()
    lb = start_haproxy(haproxy, tmp_path, lb_port, ports)
    scraper = start_prometheus(prometheus, tmp_path, prom_port, list(ports.values()))
    try:
        time.sleep(1.5)  # HAProxy's health checks see every replica up
        faults = Faults(replicas, ports, slow_plan, postgres)
        faults.start()
        turns = asyncio.run(conversations(f"http://127.0.0.1:{lb_port}", count=USERS,
                                          turns_per_thread=TURNS_PER_THREAD, seconds=LOAD_S, run=uuid.uuid4().hex[:8],
                                          t0=faults.t0))
        faults.join(120)
        assert faults.problem is None, f"the fault schedule failed: {faults.problem!r}"
        balancer = balancer_retries(tmp_path)
        turns += asyncio.run(_after_restart(faults, turns))
        time.sleep(2.5)  # a last scrape of every replica
        prom_ok = prometheus_total(prom_port, 'factory_turns_total{outcome="ok"}')
    finally:
        for process in (lb, scraper):
            process.terminate()
            process.wait(10)
        for replica in replicas.values():
            replica.stop()

    figures = _figures(turns, faults)
    print("\nchaos figures:", json.dumps({**figures, "balancer": balancer, "prometheus_ok_turns": prom_ok},
                                        indent=2))
    assert faults.moments["r1 exit code"] == 0, "the SIGTERM'd replica did not exit cleanly"

    attempts = [a for t in turns for a in t.attempts]
    unclean = [a for a in attempts if a.outcome.startswith("unclean")]
    assert not unclean, f"failures that were not clean: {Counter(a.outcome for a in unclean)}"
    kill = faults.moments["kill r0"]
    cut = [a for a in attempts if a.outcome == "cut"]
    assert all(a.started <= kill <= a.ended + 1 for a in cut), "a stream was cut that the kill does not explain"
    # A request the faults hit before its answer started is sent again by HAProxy (a refused
    # connection, an empty answer, a draining replica's 503) and the client never sees it; under a
    # heavy load most of a turn passes before its answer starts, so that is where most hits land.
    failed = figures["failed_attempts"]
    assert isinstance(failed, int)
    hits = failed + balancer["retries"] + balancer["redispatches"]
    assert hits, f"the faults did not hit the traffic: no client saw a failure, HAProxy retried nothing {balancer}"
    unacked = [t for t in turns if not t.acknowledged]
    assert not unacked, f"{len(unacked)} turns never succeeded, e.g. {unacked[0]}"
    assert len(turns) >= USERS * 2, "too few turns to say anything"

    _check_history(turns, slow_plan, postgres)

    # Prometheus saw every acknowledged turn, except those the dead replicas ended after their last
    # scrape; it may count a turn whose stream the kill cut after the turn ended (counted twice then).
    acked = figures["acknowledged"]
    assert isinstance(acked, int)
    unscraped = sum(1 for a in attempts if a.outcome == "ok" and a.replica in ("r0", "r1")
                    and (kill - 2 <= a.ended <= kill or
                         faults.moments["sigterm r1"] - 2 <= a.ended <= faults.moments["r1 exited"]))
    assert acked - unscraped <= prom_ok <= acked + len(cut), (acked, unscraped, prom_ok, len(cut))
