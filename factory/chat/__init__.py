"""`factory chat`: a terminal client for an agent, in-process or over a server's wire.

The wire is `factory.client`'s (in-process, SSE, WebSocket, the Agent Server API); this package is
the loop (`ChatSession`), what is shown (`_render`) and what is read (`_input`).
"""

from factory.chat.ui import ChatSession

__all__ = ["ChatSession"]
