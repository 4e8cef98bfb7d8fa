"""`POST /chat/stream` on a factory server: one Server-Sent Events response per turn."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from factory.client._base import ClientError, Fixtures
from factory.client._http import HttpClient, dropped, http_refusal, unreachable
from graphs.events import EndEvent, ErrorEvent, Event, parse_event

__all__ = ["SseClient", "decode_event"]


def decode_event(name: str, data: Any) -> Event:
    """One wire frame (`{"event": name, "data": data}`) as its typed event; a frame that does not
    parse is a protocol error, never a guess."""
    try:
        return parse_event(name, data)
    except ValueError as exc:
        raise ClientError(f"the server sent an event that does not parse: {exc}",
                          "is this a factory server of this version? `--protocol agent-server` talks to an "
                          "Agent Server", kind="protocol") from None


def _json(name: str, raw: str) -> Any:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        raise ClientError(f"the server sent a {name!r} event that is not JSON: {raw[:200]!r}",
                          kind="protocol") from None


class SseClient(HttpClient):
    """Cancelling closes the response stream; the server sees the disconnect and stops the run."""

    protocol_name = "sse"

    async def open(self) -> None:
        await self.check_ready()

    async def turn(self, message: str, *, thread_id: str | None = None, script: Fixtures | None = None,
                   mocks: Fixtures | None = None) -> AsyncIterator[Event]:
        import httpx
        from httpx_sse import SSEError, aconnect_sse

        body: dict[str, Any] = {"message": message}
        for key, value in (("thread_id", thread_id), ("script", script), ("mocks", mocks)):
            if value:
                body[key] = value
        retries = self.busy_retries()
        try:
            while True:
                async with aconnect_sse(self.http(), "POST", "/chat/stream", json=body) as source:
                    response = source.response
                    if response.status_code == 409 and retries:
                        await asyncio.sleep(retries.pop(0))  # a cancelled turn is still being freed
                        continue
                    if response.status_code >= 400:
                        text = (await response.aread()).decode(errors="replace")
                        raise http_refusal(response.status_code, text, self.api_key_env,
                                           fixtures=bool(script or mocks))
                    async for sse in source.aiter_sse():
                        if not sse.event or sse.event == "message" and not sse.data:
                            continue  # a keep-alive comment
                        event = decode_event(sse.event, _json(sse.event, sse.data))
                        yield event
                        if isinstance(event, EndEvent | ErrorEvent):
                            return
                raise dropped("the stream ended before the reply did", code="no_end")
        except httpx.ConnectError as exc:
            raise unreachable(self.base, exc) from None
        except (httpx.HTTPError, SSEError) as exc:
            raise dropped(exc) from None

    async def cancel(self) -> None:
        """Leaving `aconnect_sse` closed the response; the server stops the run a moment later (the
        next turn retries a 409 for a while)."""
        self.mark_cancelled()
