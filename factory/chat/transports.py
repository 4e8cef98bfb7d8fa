"""How `factory chat` reaches an agent: in-process, over SSE, or over a WebSocket.

Every transport speaks the one event vocabulary (`metadata`, `node`, `token`, `tool`, `interrupt`,
`state`, `error`, `end`) as plain `{"event": NAME, "data": {...}}` dicts, so the UI never knows
which one it is talking to. A turn is cancelled by cancelling the task that iterates it and then
awaiting `Transport.cancel()`, which does whatever the wire needs (the SSE stream is already closed
by then; the WebSocket gets a `{"type": "cancel"}` frame and is drained up to the turn's last event).
Failures a user can do something about become `TransportError` with a hint, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from factory.spec.loader import LoadedSpec

__all__ = [
    "ChatEvent",
    "InProcessTransport",
    "SseTransport",
    "Transport",
    "TransportError",
    "WebSocketTransport",
]

ChatEvent = dict[str, Any]
"""One event: `{"event": NAME, "data": {...}}`."""

FailureKind = Literal["unreachable", "auth", "config", "dropped", "refused", "protocol"]

_DRAIN_TIMEOUT_S = 5.0
_STALE = ("cancelled", "no_turn")  # the WebSocket server's answers to {"type": "cancel"}


@dataclass
class TransportError(Exception):
    """Something between the chat and the agent failed; `fatal` ones end the chat.

    Attributes:
        kind: `unreachable` (nothing listens), `auth` (the key was refused), `dropped` (the
            connection broke mid-turn), `refused` (the server answered with an HTTP error),
            `protocol` (the server said something we do not understand), `config` (the agent
            cannot be built here, e.g. a model key is missing).
        message: what happened, in words a user understands.
        hint: what to do about it.
    """

    kind: FailureKind
    message: str
    hint: str | None = None

    @property
    def fatal(self) -> bool:
        return self.kind == "auth"

    def __str__(self) -> str:
        return self.message


class Transport(Protocol):
    """The one interface the chat UI uses."""

    label: str
    """Shown in the banner: `in-process`, `sse http://...`, `ws ws://...`."""

    agent: str
    """The agent's name (known after `open()` for a server: `GET /ready` tells it)."""

    async def open(self) -> None:
        """Connect or compile; raises `TransportError` when the agent cannot be reached."""

    async def close(self) -> None:
        """Release connections; safe to call twice."""

    def turn(self, message: str, thread_id: str) -> AsyncIterator[ChatEvent]:
        """Send one user message and yield its events up to `end` or `error`."""
        ...

    async def cancel(self) -> None:
        """Called after the task iterating `turn()` was cancelled: stop the run on the other side."""

    async def state(self, thread_id: str) -> dict[str, Any] | None:
        """The thread's slots when the transport can ask for them, else None (the UI keeps the last
        `state` event it saw)."""

    async def graph(self) -> str | None:
        """The graph as Mermaid text when the transport can get it, else None."""


# ---------------------------------------------------------------------------------- in-process


class InProcessTransport:
    """`graphs.agent.Agent` in this process: no server, the spec compiled here."""

    def __init__(self, loaded: LoadedSpec, plan: Any, *, checkpointer: str, model: str | None) -> None:
        self.loaded, self.plan = loaded, plan
        self.checkpointer, self.model = checkpointer, model
        self.label = f"in-process{f' ({model})' if model else ''}"
        self.agent = loaded.spec.name
        self._stack = AsyncExitStack()
        self._agent: Any = None

    async def open(self) -> None:
        from graphs.agent import Agent
        from graphs.models import ModelConfigError

        try:
            self._agent = await self._stack.enter_async_context(
                Agent.open(self.plan, checkpointer=self.checkpointer, base_dir=str(self.loaded.folder),
                           model_override=self.model))
        except ModelConfigError as exc:
            raise TransportError("config", str(exc), "run offline with `--model scripted`") from None
        except (OSError, ValueError) as exc:
            raise TransportError("config", f"cannot open the checkpointer {self.checkpointer!r}: {exc}",
                                 "pass --checkpointer memory, or fix the spec's serve.checkpointer") from None

    async def close(self) -> None:
        await self._stack.aclose()

    async def turn(self, message: str, thread_id: str) -> AsyncIterator[ChatEvent]:
        from graphs.agent import ThreadBusy

        assert self._agent is not None, "open() first"
        try:
            async for event in self._agent.turn(message, thread_id=thread_id):
                yield event.as_dict()
        except ThreadBusy:
            raise TransportError("refused", f"a turn is already running on thread {thread_id}",
                                 "wait for it to finish, or /new for another thread") from None

    async def cancel(self) -> None:
        """Cancelling the iterating task already reached the graph; the Agent restored the thread."""

    async def state(self, thread_id: str) -> dict[str, Any] | None:
        assert self._agent is not None, "open() first"
        return dict(await self._agent.state(thread_id))

    async def graph(self) -> str | None:
        from factory.cli.graph import mermaid

        return mermaid(self.loaded.spec)


# ---------------------------------------------------------------------------------- over HTTP


def _auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "X-API-Key": api_key} if api_key else {}


def _base_url(url: str) -> str:
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TransportError("unreachable", f"cannot use {url!r} as a server address",
                             "pass --url http://HOST:PORT")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _unreachable(base: str, exc: BaseException) -> TransportError:
    return TransportError("unreachable", f"cannot reach the agent server at {base} ({_reason(exc)})",
                          "is `factory serve SPEC --port PORT` running there? "
                          "start it and run the chat again")


def _dropped(exc: BaseException) -> TransportError:
    return TransportError("dropped", f"the connection to the server dropped mid-reply ({_reason(exc)})",
                          "send your message again to retry; the thread was left as it was before the turn")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _auth_error(status: int, key_env: str | None) -> TransportError:
    where = f"the key in ${key_env}" if key_env else "no API key"
    hint = (f"check the value of ${key_env} against the server's keys" if key_env else
            "pass --api-key-env VAR naming the variable that holds a key the server accepts")
    return TransportError("auth", f"the server refused {where} ({status})", hint)


class _HttpBase:
    def __init__(self, url: str, *, api_key: str | None = None, api_key_env: str | None = None,
                 timeout_s: float = 10.0) -> None:
        self.base = _base_url(url)
        self.api_key, self.api_key_env = api_key, api_key_env
        self.timeout_s = timeout_s
        self.agent = urlsplit(self.base).netloc
        self._client: Any = None

    def _http(self) -> Any:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base, headers=_auth_headers(self.api_key),
                timeout=httpx.Timeout(self.timeout_s, read=None))
        return self._client

    async def _check_ready(self) -> None:
        import httpx

        try:
            response = await self._http().get("/ready", timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise _unreachable(self.base, exc) from None
        if response.status_code in (401, 403):
            raise _auth_error(response.status_code, self.api_key_env)
        if response.status_code == 404:  # an older server without /ready: /health is enough
            with contextlib.suppress(httpx.HTTPError):
                response = await self._http().get("/health", timeout=self.timeout_s)
        if response.status_code == 200:
            with contextlib.suppress(ValueError, AttributeError):
                self.agent = str(response.json().get("agent") or self.agent)
        if response.status_code >= 400:
            raise TransportError("unreachable", f"the server at {self.base} is not ready "
                                                f"({response.status_code})",
                                 "wait until it has started (GET /ready answers 200) and run the chat again")
        await self._check_key()

    async def _check_key(self) -> None:
        """Probe the key without running anything: an empty body is refused (422) only after the key
        check (401), so a wrong key is reported before the user has typed a word."""
        import httpx

        try:
            response = await self._http().post("/chat/stream", json={}, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise _unreachable(self.base, exc) from None
        if response.status_code in (401, 403):
            raise _auth_error(response.status_code, self.api_key_env)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def state(self, thread_id: str) -> dict[str, Any] | None:
        return None

    async def graph(self) -> str | None:
        """Servers may expose `GET /graph` (Mermaid text); without it the UI says it needs the spec."""
        import httpx

        try:
            response = await self._http().get("/graph", timeout=self.timeout_s)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        text = str(response.text)
        return text if text.lstrip().startswith(("flowchart", "graph")) else None


def _http_refusal(status: int, body: str, key_env: str | None) -> TransportError:
    if status in (401, 403):
        return _auth_error(status, key_env)
    detail = body.strip()
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        parsed = json.loads(detail)
        detail = str(parsed.get("detail") or parsed.get("message") or detail)
    hints = {409: "a reply is still running on this thread; wait a moment or /new",
             413: "the message is too long for this server", 422: "the server rejected the message"}
    return TransportError("refused", f"the server answered {status}: {detail[:300]}",
                          hints.get(status, "try again; if it persists, look at the server's log"))


class SseTransport(_HttpBase):
    """`POST /chat/stream`: one SSE response per turn; cancelling closes the stream."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.label = f"sse {self.base}"

    async def open(self) -> None:
        await self._check_ready()

    async def turn(self, message: str, thread_id: str) -> AsyncIterator[ChatEvent]:
        import httpx
        from httpx_sse import SSEError, aconnect_sse

        body = {"message": message, "thread_id": thread_id}
        finished = False
        try:
            async with aconnect_sse(self._http(), "POST", "/chat/stream", json=body) as source:
                response = source.response
                if response.status_code >= 400:
                    text = (await response.aread()).decode(errors="replace")
                    raise _http_refusal(response.status_code, text, self.api_key_env)
                async for sse in source.aiter_sse():
                    if not sse.event or sse.event == "message" and not sse.data:
                        continue
                    try:
                        data = json.loads(sse.data) if sse.data else {}
                    except ValueError:
                        raise TransportError("protocol", f"the server sent an event that is not JSON: "
                                                         f"{sse.data[:200]!r}") from None
                    yield {"event": sse.event, "data": data}
                    if sse.event in ("end", "error"):
                        finished = True
                        break
        except httpx.ConnectError as exc:
            raise _unreachable(self.base, exc) from None
        except (httpx.HTTPError, SSEError) as exc:
            raise _dropped(exc) from None
        if not finished:
            raise _dropped(ConnectionError("the stream ended before the reply did"))

    async def cancel(self) -> None:
        """Leaving `aconnect_sse` closed the response; the server sees the disconnect and stops."""


# ---------------------------------------------------------------------------------- WebSocket


def _ws_url(base: str, thread_id: str) -> str:
    parts = urlsplit(base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, f"{parts.path}/ws/chat/{thread_id}", "", ""))


def _is_loopback(base: str) -> bool:
    host = urlsplit(base).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


class WebSocketTransport(_HttpBase):
    """`/ws/chat/{thread_id}`: one socket per thread, many turns on it; reconnects when it dropped."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.label = f"ws {_ws_url(self.base, '…').rsplit('/ws/chat/', 1)[0]}"
        self._ws: Any = None
        self._ws_thread: str | None = None

    async def open(self) -> None:
        await self._check_ready()

    async def _socket(self, thread_id: str) -> Any:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidStatus

        if self._ws is not None and self._ws_thread == thread_id:
            return self._ws
        await self._close_ws()
        url = _ws_url(self.base, thread_id)
        try:
            self._ws = await connect(url, additional_headers=_auth_headers(self.api_key),
                                     proxy=None if _is_loopback(self.base) else True,
                                     open_timeout=self.timeout_s, max_size=None)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise _auth_error(status, self.api_key_env) from None
            raise TransportError("refused", f"the server refused the WebSocket at {url} ({status})",
                                 "is this a `factory serve` server? try --transport sse") from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise _unreachable(self.base, exc) from None
        self._ws_thread = thread_id
        return self._ws

    async def _close_ws(self) -> None:
        ws, self._ws, self._ws_thread = self._ws, None, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2.0)

    async def close(self) -> None:
        await self._close_ws()
        await super().close()

    async def _recv(self) -> ChatEvent:
        from websockets.exceptions import ConnectionClosed

        try:
            raw = await self._ws.recv()
        except ConnectionClosed as exc:
            await self._close_ws()
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code == 1008:
                raise _auth_error(1008, self.api_key_env) from None
            raise _dropped(exc) from None
        try:
            frame = json.loads(raw)
            return {"event": str(frame["event"]), "data": frame.get("data") or {}}
        except (ValueError, KeyError, TypeError):
            raise TransportError("protocol", "the server sent a frame we do not understand: "
                                             f"{str(raw)[:200]!r}") from None

    async def _send(self, thread_id: str, frame: dict[str, Any]) -> None:
        from websockets.exceptions import ConnectionClosed

        for attempt in (1, 2):  # a socket that dropped while idle (server restart) is reopened once
            ws = await self._socket(thread_id)
            try:
                await ws.send(json.dumps(frame))
                return
            except ConnectionClosed as exc:
                await self._close_ws()
                if exc.rcvd is not None and exc.rcvd.code == 1008:
                    raise _auth_error(1008, self.api_key_env) from None
                if attempt == 2:
                    raise _dropped(exc) from None

    async def turn(self, message: str, thread_id: str) -> AsyncIterator[ChatEvent]:
        await self._send(thread_id, {"type": "message", "text": message})
        started = False
        while True:
            event = await self._recv()
            if not started and event["event"] == "error" and event["data"].get("code") in _STALE:
                continue  # the answer to an earlier cancel that raced with the end of its turn
            started = True
            yield event
            if event["event"] in ("end", "error"):
                return

    async def cancel(self) -> None:
        """Ask the server to stop, then read up to its answer so the next turn starts clean.

        The server answers a cancel with an `error` frame coded `cancelled`, or `no_turn` when the
        turn had already ended (its remaining frames, up to `end`, arrive first).
        """
        if self._ws is None:
            return
        try:
            await self._ws.send(json.dumps({"type": "cancel"}))
            async with asyncio.timeout(_DRAIN_TIMEOUT_S):
                while True:
                    event = await self._recv()
                    if event["event"] == "error" and event["data"].get("code") in _STALE:
                        return
        except Exception:  # TransportError, TimeoutError, a closed socket: start afresh next turn
            await self._close_ws()
