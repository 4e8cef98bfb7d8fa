"""`/ws/chat/{thread_id}` on a factory server: one socket per thread, many turns on it.

The server answers a request it refuses (before the turn starts) with an `error` frame and no
`metadata`; those become `ClientError`s here, so a consumer sees the same contract as over SSE. A
`{"type": "cancel"}` frame stops a running turn; the server answers it with an `error` frame coded
`cancelled`, or `no_turn` when the turn had already ended (its last frames arrive first).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from factory.client._base import ClientError, FailureKind, Fixtures
from factory.client._http import HttpClient, auth_error, auth_headers, bad_thread_id, detail, dropped, unreachable
from factory.client._sse import decode_event
from graphs.events import EndEvent, ErrorCode, ErrorEvent, Event

__all__ = ["WebSocketClient"]

_DRAIN_TIMEOUT_S = 5.0
_STALE: frozenset[ErrorCode] = frozenset({"cancelled", "no_turn"})  # answers to an earlier `cancel`


def _ws_url(base: str, thread_id: str) -> str:
    parts = urlsplit(base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, f"{parts.path}/ws/chat/{quote(thread_id, safe='')}", "", ""))


def _is_loopback(base: str) -> bool:
    host = urlsplit(base).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def _closed_1008(said: str, thread_id: str, key_env: str | None) -> ClientError:
    """A socket closed with 1008 (policy violation): the key only when the reason says so."""
    lowered = said.lower()
    if "api key" in lowered or "api_key" in lowered or "authoriz" in lowered:
        return auth_error("WebSocket close 1008", key_env)
    if "thread id" in lowered or "thread_id" in lowered:
        return bad_thread_id(thread_id, said)
    return ClientError(f"the server closed the WebSocket (1008{f': {said}' if said else ''})",
                       "send your message again; if it persists, look at the server's log")


def _refusal(error: ErrorEvent, thread_id: str, fixtures: bool) -> ClientError:
    """An `error` frame before the turn started: the server refused the message itself."""
    if error.code == "bad_thread_id":
        return bad_thread_id(thread_id, error.message)
    if error.code == "forbidden" and fixtures:
        return ClientError(f"the server refused the test's script and mocks ({error.message})",
                           "start the server in test mode: `factory serve SPEC --test-mode`")
    if error.code == "unauthorized":
        return auth_error("unauthorized", None)
    kind: FailureKind = "busy" if error.code == "thread_busy" else "refused"
    return ClientError(f"the server refused the message ({error.code}: {error.message})",
                       "wait a moment and send it again" if error.retryable else None, kind=kind)


class WebSocketClient(HttpClient):
    """Reconnects once when an idle socket dropped (a server restart)."""

    protocol_name = "ws"

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self.label = f"ws {_ws_url(self.base, 'x').rsplit('/ws/chat/', 1)[0]}"
        self._ws: Any = None
        self._ws_thread: str | None = None

    async def open(self) -> None:
        await self.check_ready()

    async def close(self) -> None:
        await self._close_ws()
        await super().close()

    async def _socket(self, thread_id: str) -> Any:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidStatus

        if self._ws is not None and self._ws_thread == thread_id:
            return self._ws
        await self._close_ws()
        url = _ws_url(self.base, thread_id)
        try:
            self._ws = await connect(url, additional_headers=auth_headers(self.api_key),
                                     proxy=None if _is_loopback(self.base) else True,
                                     open_timeout=self.timeout_s, max_size=None)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 401:
                raise auth_error("401", self.api_key_env) from None
            said = detail(bytes(exc.response.body or b"").decode(errors="replace"))
            raise ClientError(f"the server refused the WebSocket at {url} ({status}{f': {said}' if said else ''})",
                              "is this a `factory serve` server? try --protocol sse") from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise unreachable(self.base, exc) from None
        self._ws_thread = thread_id
        return self._ws

    async def _close_ws(self) -> None:
        ws, self._ws, self._ws_thread = self._ws, None, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2.0)

    async def _closed(self, exc: Any, thread_id: str) -> ClientError:
        await self._close_ws()
        if exc.rcvd is not None and exc.rcvd.code == 1008:
            return _closed_1008(exc.rcvd.reason or "", thread_id, self.api_key_env)
        return dropped(exc)

    async def _recv(self, thread_id: str) -> Event:
        from websockets.exceptions import ConnectionClosed

        try:
            raw = await self._ws.recv()
        except ConnectionClosed as exc:
            raise await self._closed(exc, thread_id) from None
        try:
            frame = json.loads(raw)
            return decode_event(str(frame["event"]), frame.get("data"))
        except ClientError:
            await self._close_ws()  # what follows on this socket cannot be trusted either: start afresh
            raise
        except (ValueError, KeyError, TypeError):
            await self._close_ws()
            raise ClientError(f"the server sent a frame that is not an event: {str(raw)[:200]!r}",
                              "is this a factory server? try --protocol agent-server", kind="protocol") from None

    async def _send(self, thread_id: str, frame: dict[str, Any]) -> None:
        from websockets.exceptions import ConnectionClosed

        for attempt in (1, 2):
            ws = await self._socket(thread_id)
            try:
                await ws.send(json.dumps(frame))
                return
            except ConnectionClosed as exc:
                error = await self._closed(exc, thread_id)
                if error.kind != "dropped" or attempt == 2:
                    raise error from None

    async def turn(self, message: str, *, thread_id: str | None = None, script: Fixtures | None = None,
                   mocks: Fixtures | None = None) -> AsyncIterator[Event]:
        thread_id = thread_id or uuid.uuid4().hex
        frame: dict[str, Any] = {"type": "message", "text": message}
        frame.update({key: value for key, value in (("script", script), ("mocks", mocks)) if value})
        retries = self.busy_retries()
        await self._send(thread_id, frame)
        started = False
        while True:
            event = await self._recv(thread_id)
            if not started and isinstance(event, ErrorEvent):
                if event.code in _STALE:
                    continue  # the answer to an earlier cancel that raced with the end of its turn
                if event.code == "thread_busy" and retries:
                    await asyncio.sleep(retries.pop(0))  # the cancelled turn is still being freed
                    await self._send(thread_id, frame)
                    continue
                if event.code == "bad_thread_id":
                    await self._close_ws()  # the server closes the socket after this frame
                raise _refusal(event, thread_id, bool(script or mocks))
            started = True
            yield event
            if isinstance(event, EndEvent | ErrorEvent):
                return

    async def cancel(self) -> None:
        """Ask the server to stop, then read up to its answer so the next turn starts clean."""
        self.mark_cancelled()
        if self._ws is None:
            return
        thread_id = self._ws_thread or ""
        try:
            await self._ws.send(json.dumps({"type": "cancel"}))
            async with asyncio.timeout(_DRAIN_TIMEOUT_S):
                while True:
                    event = await self._recv(thread_id)
                    if isinstance(event, ErrorEvent) and event.code in _STALE:
                        return
        except Exception:  # ClientError, TimeoutError, a closed socket: start afresh next turn
            await self._close_ws()
