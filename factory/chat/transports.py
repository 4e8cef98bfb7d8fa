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
import re
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

if TYPE_CHECKING:
    from factory.language.loader import LoadedSpec

__all__ = [
    "ChatEvent",
    "InProcessTransport",
    "SseTransport",
    "Transport",
    "TransportError",
    "WebSocketTransport",
    "valid_thread_id",
]

ChatEvent = dict[str, Any]
"""One event: `{"event": NAME, "data": {...}}`."""

FailureKind = Literal["unreachable", "auth", "config", "dropped", "refused", "busy", "protocol"]

_DRAIN_TIMEOUT_S = 5.0
_STALE = ("cancelled", "no_turn")  # the WebSocket server's answers to {"type": "cancel"}

THREAD_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"
"""What the server accepts as a thread id (`graphs.server.sse.THREAD_ID_PATTERN`; a test keeps the two
equal without importing the server into the client)."""
_THREAD_ID = re.compile(THREAD_ID_PATTERN)
THREAD_ID_RULE = "1 to 128 letters, digits, `_`, `.`, `:` or `-`"

# After a cancelled turn the server frees the thread a moment later (SSE: when it notices the
# disconnect); a 409 / `thread_busy` in that window is retried with these pauses (1 s in all).
_BUSY_RETRY_DELAYS_S = (0.05, 0.1, 0.15, 0.2, 0.25, 0.25)
_BUSY_RETRY_WINDOW_S = 10.0


def valid_thread_id(thread_id: str) -> bool:
    """True when the server would accept `thread_id` (letters, digits, `_ . : -`, up to 128)."""
    return bool(_THREAD_ID.fullmatch(thread_id))


@dataclass
class TransportError(Exception):
    """Something between the chat and the agent failed; `fatal` ones end the chat.

    Attributes:
        kind: `unreachable` (nothing listens), `auth` (a key is missing or was refused), `dropped`
            (the connection broke mid-turn), `refused` (the server answered with an HTTP error),
            `busy` (a turn is already running on the thread),
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
            hint = "run offline with `--model scripted`"
            raise TransportError("config", str(exc), None if "--model scripted" in str(exc) else hint) from None
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


def _auth_error(status: str, key_env: str | None) -> TransportError:
    """`status` is what the server said: `401`, or `WebSocket close 1008`."""
    if key_env:
        return TransportError("auth", f"the server refused the API key ({status})",
                              f"check the value of ${key_env} against the server's keys")
    return TransportError("auth", f"the server requires an API key ({status}); pass --api-key-env VAR",
                          "VAR names the environment variable that holds a key the server accepts")


def _detail(body: str) -> str:
    """The `detail` (or `message`) of a JSON error body, else the body itself, shortened."""
    detail = body.strip()
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        parsed = json.loads(detail)
        detail = str(parsed.get("detail") or parsed.get("message") or detail)
    return detail[:300]


def _bad_thread_id(thread_id: str, said: str = "") -> TransportError:
    said = f" ({said})" if said else ""
    return TransportError("refused", f"the server refused the thread id {thread_id!r}{said}",
                          f"a thread id is {THREAD_ID_RULE}; /new starts a fresh thread")


def _ws_closed_1008(reason: str, thread_id: str, key_env: str | None) -> TransportError:
    """A WebSocket closed with 1008 (policy violation): the key only when the reason says so."""
    lowered = reason.lower()
    if "api key" in lowered or "api_key" in lowered or "authoriz" in lowered:
        return _auth_error("WebSocket close 1008", key_env)
    if "thread id" in lowered or "thread_id" in lowered:
        return _bad_thread_id(thread_id, reason)
    return TransportError("refused", f"the server closed the WebSocket (1008{f': {reason}' if reason else ''})",
                          "send your message again; if it persists, look at the server's log")


class _HttpBase:
    def __init__(self, url: str, *, api_key: str | None = None, api_key_env: str | None = None,
                 timeout_s: float = 10.0) -> None:
        self.base = _base_url(url)
        self.api_key, self.api_key_env = api_key, api_key_env
        self.timeout_s = timeout_s
        self.agent = urlsplit(self.base).netloc
        self._client: Any = None
        self._cancelled_at: float | None = None

    def _busy_retries(self) -> tuple[float, ...]:
        """The pauses before retrying a busy thread: some right after a cancel, else none."""
        recent = self._cancelled_at is not None and time.monotonic() - self._cancelled_at < _BUSY_RETRY_WINDOW_S
        return _BUSY_RETRY_DELAYS_S if recent else ()

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
        if response.status_code == 401:
            raise _auth_error("401", self.api_key_env)
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
        if response.status_code == 401:
            raise _auth_error("401", self.api_key_env)

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
    if status == 401:
        return _auth_error("401", key_env)
    hints = {403: "the server does not allow this request; its detail says why",
             409: "a reply is still running on this thread; wait a moment or /new",
             413: "the message is too long for this server", 422: "the server rejected the message"}
    return TransportError("busy" if status == 409 else "refused",
                          f"the server answered {status}: {_detail(body)}",
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
        retries = list(self._busy_retries())
        self._cancelled_at = None
        try:
            while True:
                async with aconnect_sse(self._http(), "POST", "/chat/stream", json=body) as source:
                    response = source.response
                    if response.status_code == 409 and retries:
                        await asyncio.sleep(retries.pop(0))  # the cancelled turn is still being freed
                        continue
                    if response.status_code >= 400:
                        text = (await response.aread()).decode(errors="replace")
                        raise _http_refusal(response.status_code, text, self.api_key_env)
                    async for event in self._events(source):
                        yield event
                        if event["event"] in ("end", "error"):
                            finished = True
                            break
                    break
        except httpx.ConnectError as exc:
            raise _unreachable(self.base, exc) from None
        except (httpx.HTTPError, SSEError) as exc:
            raise _dropped(exc) from None
        if not finished:
            raise _dropped(ConnectionError("the stream ended before the reply did"))

    @staticmethod
    async def _events(source: Any) -> AsyncIterator[ChatEvent]:
        async for sse in source.aiter_sse():
            if not sse.event or sse.event == "message" and not sse.data:
                continue
            try:
                data = json.loads(sse.data) if sse.data else {}
            except ValueError:
                raise TransportError("protocol", f"the server sent an event that is not JSON: "
                                                 f"{sse.data[:200]!r}") from None
            yield {"event": sse.event, "data": data}

    async def cancel(self) -> None:
        """Leaving `aconnect_sse` closed the response; the server sees the disconnect and stops (a
        moment later: the next turn retries a 409 for a while)."""
        self._cancelled_at = time.monotonic()


# ---------------------------------------------------------------------------------- WebSocket


def _ws_url(base: str, thread_id: str) -> str:
    parts = urlsplit(base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, f"{parts.path}/ws/chat/{quote(thread_id, safe='')}", "", ""))


def _is_loopback(base: str) -> bool:
    host = urlsplit(base).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


class WebSocketTransport(_HttpBase):
    """`/ws/chat/{thread_id}`: one socket per thread, many turns on it; reconnects when it dropped."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.label = f"ws {_ws_url(self.base, 'x').rsplit('/ws/chat/', 1)[0]}"
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
            if status == 401:
                raise _auth_error("401", self.api_key_env) from None
            body = bytes(exc.response.body or b"").decode(errors="replace")
            detail = _detail(body)
            raise TransportError("refused", f"the server refused the WebSocket at {url} "
                                            f"({status}{f': {detail}' if detail else ''})",
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

    async def _closed(self, exc: Any, thread_id: str) -> TransportError:
        """The error for a socket the server closed: 1008 is the key only when its reason says so."""
        await self._close_ws()
        if exc.rcvd is not None and exc.rcvd.code == 1008:
            return _ws_closed_1008(exc.rcvd.reason or "", thread_id, self.api_key_env)
        return _dropped(exc)

    async def _recv(self, thread_id: str) -> ChatEvent:
        from websockets.exceptions import ConnectionClosed

        try:
            raw = await self._ws.recv()
        except ConnectionClosed as exc:
            raise await self._closed(exc, thread_id) from None
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
                error = await self._closed(exc, thread_id)
                if error.kind != "dropped" or attempt == 2:
                    raise error from None

    async def turn(self, message: str, thread_id: str) -> AsyncIterator[ChatEvent]:
        retries = list(self._busy_retries())
        self._cancelled_at = None
        await self._send(thread_id, {"type": "message", "text": message})
        started = False
        while True:
            event = await self._recv(thread_id)
            code = event["data"].get("code") if event["event"] == "error" else None
            if not started and code in _STALE:
                continue  # the answer to an earlier cancel that raced with the end of its turn
            if not started and code == "thread_busy" and retries:
                await asyncio.sleep(retries.pop(0))  # the cancelled turn is still being freed
                await self._send(thread_id, {"type": "message", "text": message})
                continue
            if code == "bad_thread_id":  # the server closes the socket after this frame
                await self._close_ws()
                raise _bad_thread_id(thread_id, str(event["data"].get("message") or ""))
            started = True
            yield event
            if event["event"] in ("end", "error"):
                return

    async def cancel(self) -> None:
        """Ask the server to stop, then read up to its answer so the next turn starts clean.

        The server answers a cancel with an `error` frame coded `cancelled`, or `no_turn` when the
        turn had already ended (its remaining frames, up to `end`, arrive first).
        """
        self._cancelled_at = time.monotonic()
        if self._ws is None:
            return
        thread_id = self._ws_thread or ""
        try:
            await self._ws.send(json.dumps({"type": "cancel"}))
            async with asyncio.timeout(_DRAIN_TIMEOUT_S):
                while True:
                    event = await self._recv(thread_id)
                    if event["event"] == "error" and event["data"].get("code") in _STALE:
                        return
        except Exception:  # TransportError, TimeoutError, a closed socket: start afresh next turn
            await self._close_ws()
