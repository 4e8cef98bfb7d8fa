"""Checks made before the server binds, for every way of starting it (`factory serve` and the image's
`python -m graphs.server`): a failure inside uvicorn's start-up would be a traceback and uvicorn's
own exit code, where a user deserves a sentence and a hint.

Exit codes (`docs/serving.md`): 2 for a setting to fix (an unknown checkpointer scheme, a model
without its key, a tool module that does not import), 4 for a failure of something outside (a
database that does not open, a port that is taken).
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from graphs.checkpointers import open_checkpointer
from graphs.errors import AgentConfigError
from graphs.plan import ModelPlan, Plan, node_model

__all__ = ["StartupError", "bind", "check_agent", "check_broker", "check_checkpointer", "url_of"]

_SCHEMES = ("sqlite:///", "postgres://", "postgresql://")


class StartupError(Exception):
    """The server cannot start as configured; `usage` is True for a bad setting, False for a failure."""

    def __init__(self, message: str, *, hint: str, usage: bool = False) -> None:
        super().__init__(message)
        self.message, self.hint, self.usage = message, hint, usage


def _models_used(plan: Plan, within: str = "") -> dict[str, tuple[ModelPlan, list[str]]]:
    """Each model alias the nodes call (sub-specs' as `node.alias`) -> its settings and the nodes."""
    used: dict[str, tuple[ModelPlan, list[str]]] = {}
    for node_id, node in plan["nodes"].items():
        alias = node_model(node)
        if alias is not None:
            used.setdefault(within + alias, (plan["models"][alias], []))[1].append(within + node_id)
        if node["kind"] == "subgraph":
            used.update(_models_used(node["plan"], f"{within}{node_id}."))
    return used


def check_agent(plan: Plan, base_dir: str | Path, *, model_override: str | None) -> None:
    """Every model the nodes use can be built (its key variable set, or a `base_url`), then the whole
    graph, as the server's start-up will build it (tools, python modules), without a checkpointer."""
    from graphs.builder import build_graph
    from graphs.models import make_chat_model

    for alias, (settings, nodes) in _models_used(plan).items():
        try:
            make_chat_model(settings, override=model_override)
        except AgentConfigError as exc:
            raise StartupError(
                f"model {alias!r} of {plan['name']!r} (nodes {', '.join(nodes)}) cannot be built: {exc}",
                usage=True, hint="export the variable, give the model a `base_url` (a local server), or serve "
                                 "offline with `--model scripted`") from None
    try:
        if plan.get("mcp_servers"):  # the MCP servers start and list their tools, as at start-up
            asyncio.run(_open_agent(plan, base_dir, model_override=model_override))
        else:
            build_graph(plan, base_dir=base_dir, model_override=model_override)
    except AgentConfigError as exc:
        raise StartupError(f"the agent {plan['name']!r} cannot start: {exc}", usage=True,
                           hint="fix the spec's tool or python module it names" + (
                               "; check that its MCP servers start: `factory validate --online SPEC`"
                               if plan.get("mcp_servers") else "")) from None


async def _open_agent(plan: Plan, base_dir: str | Path, *, model_override: str | None) -> None:
    from graphs.agent import Agent

    async with Agent.open(plan, checkpointer="memory", base_dir=base_dir, model_override=model_override):
        pass


def check_checkpointer(url: str, base_dir: Path) -> None:
    """A known scheme, and a saver that opens (the URL's password is never shown)."""
    if url != "memory" and not url.startswith(_SCHEMES):
        scheme = url.split("://")[0] + "://" if "://" in url else url
        raise StartupError(f"unknown checkpointer {scheme!r} (--checkpointer, $FACTORY_CHECKPOINTER or "
                           "serve.checkpointer)", usage=True,
                           hint="use memory, sqlite:///threads.sqlite or postgres://user@host/db")

    async def probe() -> None:
        async with open_checkpointer(url, base_dir=base_dir):
            pass

    try:
        asyncio.run(probe())
    except Exception as exc:
        shown = url.split("@")[-1] if "@" in url else url
        raise StartupError(
            f"cannot open the checkpointer ...{shown}: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}",
            hint="is the database up and the URL right? `--checkpointer sqlite:///threads.sqlite` works offline",
        ) from None


def check_broker(url: str | None, *, timeout_s: float = 3.0) -> None:
    """The run broker (`serve.broker`, `$FACTORY_BROKER`) answers a PING (its password is never shown)."""
    if url is None:
        return
    from graphs.broker import open_redis, redacted

    async def probe() -> None:
        async with open_redis(url, timeout_s=timeout_s) as client:
            await asyncio.wait_for(client.ping(), timeout_s)

    try:
        asyncio.run(probe())
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
        raise StartupError(
            f"the broker {redacted(url)} does not answer: {type(exc).__name__}: {detail}",
            hint="is Redis up and the URL right (serve.broker, $FACTORY_BROKER)? without a broker, runs stay "
                 "in the process that started them ($FACTORY_BROKER=none)",
        ) from None


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before uvicorn starts: a busy port is a message, and port 0 picks a
    free one (`sock.getsockname()[1]` is the real port). Hand it to `uvicorn.Server.run(sockets=[...])`."""
    if not 0 <= port <= 65535:  # getaddrinfo would wrap 70000 around to 4464
        raise StartupError(f"--port {port} is not a port", hint="use 1-65535, or 0 for any free port", usage=True)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                           hint="is the host name right? 127.0.0.1 and 0.0.0.0 always work", usage=True) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                           hint="another process uses the port? pick another with --port (0: any free one)") from None
    return sock


def url_of(sock: socket.socket) -> str:
    """`http://HOST:PORT` of a bound socket (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
