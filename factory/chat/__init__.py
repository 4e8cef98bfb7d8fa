"""`factory chat`: a terminal client for an agent, in-process or over SSE / WebSocket."""

from factory.chat.transports import (
    ChatEvent,
    InProcessTransport,
    SseTransport,
    Transport,
    TransportError,
    WebSocketTransport,
)
from factory.chat.ui import ChatSession

__all__ = [
    "ChatEvent",
    "ChatSession",
    "InProcessTransport",
    "SseTransport",
    "Transport",
    "TransportError",
    "WebSocketTransport",
]
