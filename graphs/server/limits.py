"""Request limits: body size (413), message length (422), WebSocket frame size.

The numbers come from the plan's `serve` settings (`max_body_bytes`, `max_message_chars`, defaults in
`graphs.plan.SERVE_DEFAULTS`); the environment may lower or raise them for one deployment
(`FACTORY_MAX_BODY_BYTES`, `FACTORY_MAX_MESSAGE_CHARS`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from graphs.plan import SERVE_DEFAULTS, ServePlan

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = SERVE_DEFAULTS["max_body_bytes"]
    """Largest HTTP request body, and largest WebSocket frame, in bytes."""
    max_message_chars: int = SERVE_DEFAULTS["max_message_chars"]
    """Longest user message, in characters."""

    @classmethod
    def from_serve(cls, serve: ServePlan) -> Limits:
        """The limits of `serve` (from `graphs.plan.serve_settings`), the environment's first."""
        body = _env_int("FACTORY_MAX_BODY_BYTES") or serve["max_body_bytes"]
        chars = _env_int("FACTORY_MAX_MESSAGE_CHARS") or serve["max_message_chars"]
        return cls(max_body_bytes=int(body), max_message_chars=int(chars))

    @property
    def ws_hard_max_bytes(self) -> int:
        """uvicorn's protocol-level cap; frames between the two limits get a clear error frame."""
        return max(self.max_body_bytes * 4, 1 << 20)

    def uvicorn_options(self) -> dict[str, Any]:
        """What every way of starting the server passes to uvicorn.

        `timeout_keep_alive` is raised from uvicorn's 5 s: on a saturated event loop the idle timer of
        a kept-alive connection can fire after the client already sent its next request on it, and
        that request then dies with a connection reset (seen in the 200-stream soak).
        """
        return {"ws_max_size": self.ws_hard_max_bytes, "timeout_keep_alive": 75}


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name)
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"${name} must be a whole number of bytes or characters, got {raw!r}") from None
    return value if value > 0 else None
