"""The real parts of the chaos test: HAProxy in front of the replicas, Prometheus scraping them, and a
client that runs scripted conversations through the load balancer and records every attempt."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from real_parts import unavailable


def require(tool: str, variable: str) -> str:
    """The tool's path; skip without it, unless `variable=1` (then fail)."""
    found = shutil.which(tool) or (f"/usr/sbin/{tool}" if os.path.exists(f"/usr/sbin/{tool}") else None)
    if found is None:
        unavailable(variable,
                    f"`{tool}` is not installed (apt-get install -y {tool}; scripts/setup-machine.sh does it)")
    return found


def _wait(url: str, what: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer at {url}")


HAPROXY_CFG = """\
global
    maxconn 4096
    stats socket {stats} mode 600 level user
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout check 3s
    retries 3
    option redispatch 1
    # a request that reached no turn (no connection, no or a broken answer, a draining replica's 503)
    # goes to another replica; the request is buffered so that it can be sent again
    option http-buffer-request
    retry-on conn-failure empty-response junk-response 503
    # what the balancer answers itself (no replica up) speaks the factory's error shape
{errors}
frontend chat
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /ready
    http-check expect status 200
    default-server inter 500ms fall 3 rise 1
    http-response set-header X-Replica %s
{servers}
"""

LB_ERRORS = "\n".join(
    f"    http-error status {status} content-type application/json string "
    f"'{{\"code\":\"not_ready\",\"detail\":\"no replica answered ({status}); send it again\",\"retryable\":true}}'"
    for status in (502, 503, 504))


def start_haproxy(binary: str, folder: Path, port: int, replicas: dict[str, int]) -> subprocess.Popen[bytes]:
    servers = "\n".join(f"    server {name} 127.0.0.1:{p} check" for name, p in replicas.items())
    config = folder / "haproxy.cfg"
    config.write_text(HAPROXY_CFG.format(port=port, servers=servers, errors=LB_ERRORS, stats=folder / STATS_SOCKET))
    proc = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=subprocess.DEVNULL,
                            stderr=open(folder / "haproxy.log", "wb"))  # noqa: SIM115
    _wait(f"http://127.0.0.1:{port}/health", "haproxy", proc)
    return proc


STATS_SOCKET = "haproxy.sock"


def balancer_retries(folder: Path) -> dict[str, int]:
    """What HAProxy did for the clients, from its stats socket (`show stat`, the backend's row): requests
    it sent again (`retries`), sent again to another replica (`redispatches`), and connection and
    response errors it met (`connect_errors`, `response_errors`). A fault that hits a request before
    its answer starts shows here, not at the client."""
    with socket.socket(socket.AF_UNIX) as stats:
        stats.settimeout(5)
        stats.connect(str(folder / STATS_SOCKET))
        stats.sendall(b"show stat\n")
        raw = b""
        while chunk := stats.recv(65536):
            raw += chunk
    header, *rows = raw.decode().strip().splitlines()
    names = header.removeprefix("# ").split(",")
    backend = next(dict(zip(names, row.split(","), strict=False)) for row in rows
                   if row.startswith("replicas,BACKEND,"))
    fields = {"retries": "wretr", "redispatches": "wredis", "connect_errors": "econ", "response_errors": "eresp"}
    return {name: int(backend[column] or 0) for name, column in fields.items()}


def start_prometheus(binary: str, folder: Path, port: int, targets: list[int]) -> subprocess.Popen[bytes]:
    config = folder / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "scrape_timeout": "900ms"},
        "scrape_configs": [{"job_name": "factory",
                            "static_configs": [{"targets": [f"127.0.0.1:{p}" for p in targets]}]}],
    }))
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={folder / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=open(folder / "prometheus.log", "wb"))  # noqa: SIM115
    _wait(f"http://127.0.0.1:{port}/-/ready", "prometheus", proc)
    return proc


def prometheus_total(port: int, query: str) -> float:
    """The sum over every series of a counter's increase across the run, resets included, from the raw
    samples Prometheus kept (a restarted replica starts its counters at 0 again)."""
    answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": f"{query}[15m]"}, timeout=10)
    answer.raise_for_status()
    total = 0.0
    for series in answer.json()["data"]["result"]:
        last = 0.0
        for _, value in series["values"]:
            current = float(value)
            if current < last:  # a reset: the process before it had counted `last`
                total += last
            last = current
        total += last
    return total


# ---------------------------------------------------------------------------------- the client


@dataclass
class Attempt:
    """One try of one turn through the load balancer."""

    started: float
    outcome: str  # ok | error:<code> | http:<status>:<code> | refused | cut | unclean:<detail>
    replica: str | None = None
    first_token_s: float | None = None
    ended: float = 0.0


@dataclass
class Turn:
    thread_id: str
    text: str
    message_id: str
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].outcome == "ok"


async def attempt(client: httpx.AsyncClient, url: str, turn: Turn, t0: float) -> Attempt:
    started = time.monotonic() - t0
    body = {"message": turn.text, "thread_id": turn.thread_id, "message_id": turn.message_id}
    try:
        async with client.stream("POST", f"{url}/chat/stream", json=body) as answer:
            replica = answer.headers.get("x-replica")
            if answer.status_code != 200:
                raw = await answer.aread()
                try:
                    code = json.loads(raw)["code"]
                except (ValueError, KeyError, TypeError):
                    return Attempt(started, f"unclean:http {answer.status_code} {raw[:60]!r}", replica)
                return Attempt(started, f"http:{answer.status_code}:{code}", replica, ended=time.monotonic() - t0)
            name, first, last = "", None, None
            async for line in answer.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                    if name == "token" and first is None:
                        first = time.monotonic() - t0 - started
                elif line.startswith("data: "):
                    last = (name, json.loads(line.removeprefix("data: ")))
            ended = time.monotonic() - t0
            if last is not None and last[0] == "end":
                return Attempt(started, "ok", replica, first, ended)
            if last is not None and last[0] == "error":
                return Attempt(started, f"error:{last[1]['code']}", replica, first, ended)
            return Attempt(started, "cut", replica, first, ended)
    except httpx.ConnectError:
        return Attempt(started, "refused", ended=time.monotonic() - t0)
    except (httpx.RemoteProtocolError, httpx.ReadError):
        return Attempt(started, "cut", ended=time.monotonic() - t0)
    except httpx.HTTPError as exc:
        return Attempt(started, f"unclean:{type(exc).__name__}", ended=time.monotonic() - t0)


async def conversations(url: str, *, count: int, turns_per_thread: int, seconds: float, run: str, t0: float,
                        max_attempts: int = 30) -> list[Turn]:
    """`count` users, each talking `turns_per_thread` turns per thread, thread after thread, for
    `seconds` from `t0` (a `time.monotonic()`); a failed turn is sent again (same message id) until it
    is acknowledged."""
    turns: list[Turn] = []
    limits = httpx.Limits(max_connections=count + 8, max_keepalive_connections=count)
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, connect=5), limits=limits) as client:
        async def user(n: int) -> None:
            thread = 0
            while time.monotonic() - t0 < seconds:
                thread_id = f"chaos-{run}-{n}-{thread}"
                for t in range(turns_per_thread):
                    if time.monotonic() - t0 >= seconds:
                        return
                    turn = Turn(thread_id, f"u{n} thread {thread} turn {t}", uuid.uuid4().hex)
                    turns.append(turn)
                    for tries in range(max_attempts):
                        turn.attempts.append(await attempt(client, url, turn, t0))
                        if turn.acknowledged:
                            break
                        await asyncio.sleep(min(0.1 * (tries + 1), 1.0))
                    if not turn.acknowledged:
                        return  # the thread cannot go on; the test reports the turn
                thread += 1

        await asyncio.gather(*(user(n) for n in range(count)))
    return turns


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def read_threads(plan_file: Path, checkpointer: str, threads: list[str]) -> dict[str, tuple[Any, list[Any]]]:
    """Each thread's `turns` slot and messages, read straight from the checkpointer."""
    from graphs.agent import Agent

    async def read() -> dict[str, tuple[Any, list[Any]]]:
        plan = json.loads(plan_file.read_text())
        found = {}
        async with Agent.open(plan, checkpointer=checkpointer, base_dir=plan_file.parent) as agent:
            for thread in threads:
                found[thread] = ((await agent.state(thread)).get("turns"), await agent.messages(thread))
        return found

    return asyncio.run(read())
