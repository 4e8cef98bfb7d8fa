"""One client for every way of reaching an agent: in-process, SSE, WebSocket, the Agent Server API.

`factory chat` and `factory test` both use it. Every client yields the typed events of
`graphs.events` (see `Client` for the contract: `metadata` first, `end` or `error` last, anything
else a `ClientError` with a hint). `Remote(url)` picks the protocol of a server by asking it.
"""

from factory.client._agent_server import TEST_FIXTURES_KEY, AgentServerClient
from factory.client._base import Client, ClientError, FailureKind, Fixtures, WireProtocol
from factory.client._inprocess import InProcessClient
from factory.client._remote import Remote, detect_protocol, make_client
from factory.client._sse import SseClient
from factory.client._websocket import WebSocketClient

__all__ = [
    "TEST_FIXTURES_KEY",
    "AgentServerClient",
    "Client",
    "ClientError",
    "FailureKind",
    "Fixtures",
    "InProcessClient",
    "Remote",
    "SseClient",
    "WebSocketClient",
    "WireProtocol",
    "detect_protocol",
    "make_client",
]
