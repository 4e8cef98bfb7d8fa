"""A server at a URL whose protocol is picked by asking it something real.

`GET /ready` answers on a factory server (`factory serve`, a built image): its own SSE route is
used (`--protocol ws` picks its WebSocket). Otherwise `GET /info` answers on an Agent Server
(`langgraph dev`, LangSmith Deployment): the Agent Server API is used. A factory server that also
serves the Agent Server API is reached over SSE unless `--protocol agent-server` says otherwise.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, assert_never

from factory.client._agent_server import AgentServerClient
from factory.client._base import Client, ClientError, WireProtocol
from factory.client._http import base_url, unreachable
from factory.client._sse import SseClient
from factory.client._websocket import WebSocketClient

__all__ = ["Remote", "detect_protocol"]

_PROBE_TIMEOUT_S = 10.0


async def detect_protocol(url: str) -> WireProtocol:
    """`sse` for a factory server (`GET /ready` answers, 503 while it starts), `agent-server` for an
    Agent Server (`GET /info` answers 200).

    Raises:
        ClientError: nothing listens there, or neither probe answers.
    """
    import httpx

    base = base_url(url)
    async with httpx.AsyncClient(base_url=base, timeout=_PROBE_TIMEOUT_S) as http:
        try:
            ready = await http.get("/ready")
            if ready.status_code in (200, 503):
                return "sse"
            info = await http.get("/info")
        except httpx.HTTPError as exc:
            raise unreachable(base, exc) from None
    if info.status_code == 200:
        return "agent-server"
    raise ClientError(f"{base} is neither a factory server nor an Agent Server "
                      f"(GET /ready answered {ready.status_code}, GET /info {info.status_code})",
                      "check the URL, or name the protocol: --protocol sse|ws|agent-server", kind="unreachable")


def make_client(protocol: WireProtocol, url: str, **options: Any) -> Client:
    """The client of a protocol (not `auto`: `detect_protocol` first); not opened yet."""
    assistant = options.pop("agent", None)
    if protocol == "agent-server":
        return AgentServerClient(url, assistant=assistant, **options)
    if protocol == "sse":
        return SseClient(url, **options)
    if protocol == "ws":
        return WebSocketClient(url, **options)
    if protocol == "auto":
        raise ValueError("detect the protocol first")
    assert_never(protocol)


class Remote:
    """`async with Remote(url, protocol=...) as client:`: picks the protocol, opens the client, and
    checks that the server runs `agent` when one is named (a test run names its spec's)."""

    def __init__(self, url: str, *, protocol: WireProtocol = "auto", agent: str | None = None,
                 api_key: str | None = None, api_key_env: str | None = None,
                 read_timeout_s: float | None = None) -> None:
        self.url = base_url(url)
        self.protocol, self.agent = protocol, agent
        self.options: dict[str, Any] = {"api_key": api_key, "api_key_env": api_key_env,
                                        "read_timeout_s": read_timeout_s}
        self.client: Client | None = None

    async def __aenter__(self) -> Client:
        protocol = self.protocol if self.protocol != "auto" else await detect_protocol(self.url)
        client = make_client(protocol, self.url, agent=self.agent, **self.options)
        try:
            await client.open()
            if self.agent and protocol != "agent-server" and client.agent != self.agent:  # (that one checks itself)
                raise ClientError(f"{self.url} serves the agent {client.agent!r}, not {self.agent!r} "
                                  "(the spec under test)", "point it at a server started from this spec",
                                  kind="config")
        except BaseException:
            await client.close()
            raise
        self.client = client
        return client

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        client, self.client = self.client, None
        if client is not None:
            await client.close()
