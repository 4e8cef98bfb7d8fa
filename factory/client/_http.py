"""What the clients that reach a server over HTTP share: addresses, keys, and errors with hints."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from factory.client._base import ClientBase, ClientError
from graphs.events import THREAD_ID_RULE

__all__ = [
    "HttpClient",
    "auth_error",
    "auth_headers",
    "bad_thread_id",
    "base_url",
    "detail",
    "dropped",
    "http_refusal",
    "reason",
    "unreachable",
]

# After a cancelled turn a server frees the thread a moment later (SSE: when it notices the
# disconnect); a 409 / `thread_busy` in that window is retried with these pauses (1 s in all).
BUSY_RETRY_DELAYS_S = (0.05, 0.1, 0.15, 0.2, 0.25, 0.25)
_BUSY_RETRY_WINDOW_S = 10.0


def auth_headers(api_key: str | None) -> dict[str, str]:
    """Both ways servers read a key: the factory accepts either, the Agent Server API `X-Api-Key`."""
    return {"Authorization": f"Bearer {api_key}", "X-API-Key": api_key} if api_key else {}


def base_url(url: str) -> str:
    """`http(s)://host[:port][/path]` without a trailing slash; `host:port` alone means http."""
    if "://" not in url:
        url = f"http://{url}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ClientError(f"{url!r} is not a valid URL: {exc}", "use e.g. http://127.0.0.1:8000",
                          kind="config") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ClientError(f"{url!r} is not a valid URL for a server", "use e.g. http://127.0.0.1:8000",
                          kind="config")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def unreachable(base: str, exc: BaseException | str) -> ClientError:
    said = exc if isinstance(exc, str) else reason(exc)
    return ClientError(f"cannot reach the agent server at {base} ({said})",
                       "is `factory serve SPEC --port PORT` (or `langgraph dev`) running there? "
                       "start it and try again", kind="unreachable")


def dropped(exc: BaseException | str, *, code: Any = "client_error") -> ClientError:
    said = exc if isinstance(exc, str) else reason(exc)
    return ClientError(f"the connection to the server dropped mid-reply ({said})",
                       "send your message again to retry; the thread was left as it was before the turn",
                       kind="dropped", code=code)


def auth_error(status: str, key_env: str | None) -> ClientError:
    """`status` is what the server said: `401`, `403`, or `WebSocket close 1008`."""
    if key_env:
        return ClientError(f"the server refused the API key ({status})",
                           f"check the value of ${key_env} against the server's keys", kind="auth")
    return ClientError(f"the server requires an API key ({status}); pass --api-key-env VAR",
                       "VAR names the environment variable that holds a key the server accepts", kind="auth")


def detail(body: str) -> str:
    """The `detail` (or `message`) of a JSON error body, else the body itself, shortened."""
    text = body.strip()
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        parsed = json.loads(text)
        text = str(parsed.get("detail") or parsed.get("message") or text)
    return text[:300]


def bad_thread_id(thread_id: str, said: str = "", *, rule: str = THREAD_ID_RULE) -> ClientError:
    said = f" ({said})" if said else ""
    return ClientError(f"the server refused the thread id {thread_id!r}{said}",
                       f"a thread id is {rule}; /new starts a fresh thread", kind="refused")


def http_refusal(status: int, body: str, key_env: str | None, *, fixtures: bool = False) -> ClientError:
    """A server's HTTP error answer to a turn, with what to do about it (`fixtures`: the turn carried
    a test's script or mocks, which only a server in test mode accepts)."""
    if status == 401:
        return auth_error("401", key_env)
    if status == 403 and fixtures:
        return ClientError(f"the server refused the test's script and mocks (403: {detail(body)})",
                           "start the server in test mode: `factory serve SPEC --test-mode`", kind="refused")
    hints = {403: "the server does not allow this request; its detail says why",
             404: "the thread, run or assistant does not exist on this server",
             409: "a reply is still running on this thread; wait a moment or /new",
             413: "the message is too long for this server", 422: "the server rejected the message"}
    return ClientError(f"the server answered {status}: {detail(body)}",
                       hints.get(status, "try again; if it persists, look at the server's log"),
                       kind="busy" if status == 409 else "refused")


class HttpClient(ClientBase):
    """A server's address, key and one `httpx.AsyncClient`; the busy-retry window after a cancel."""

    protocol_name = "http"

    def __init__(self, url: str, *, api_key: str | None = None, api_key_env: str | None = None,
                 timeout_s: float = 10.0, read_timeout_s: float | None = None) -> None:
        self.base = base_url(url)
        self.api_key, self.api_key_env = api_key, api_key_env
        self.timeout_s, self.read_timeout_s = timeout_s, read_timeout_s
        self.agent = urlsplit(self.base).netloc
        self.label = f"{self.protocol_name} {self.base}"
        self.description = self.base
        self._client: Any = None
        self._cancelled_at: float | None = None

    def busy_retries(self) -> list[float]:
        """The pauses before retrying a busy thread: some right after a cancel, else none."""
        recent = self._cancelled_at is not None and time.monotonic() - self._cancelled_at < _BUSY_RETRY_WINDOW_S
        self._cancelled_at = None
        return list(BUSY_RETRY_DELAYS_S) if recent else []

    def mark_cancelled(self) -> None:
        self._cancelled_at = time.monotonic()

    def http(self) -> Any:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base, headers=auth_headers(self.api_key),
                timeout=httpx.Timeout(self.timeout_s, read=self.read_timeout_s))
        return self._client

    async def check_ready(self) -> None:
        """`GET /ready` (the factory server's readiness probe, open without a key) names the agent;
        `GET /v1/models` (a real route behind the key that runs nothing) checks the key before the
        user has typed a word."""
        response = await self._probe("/ready")
        if response.status_code == 404:
            raise ClientError(f"{self.base} is not a factory server (GET /ready answered 404)",
                              "for an Agent Server such as `langgraph dev` use --protocol agent-server (or auto)",
                              kind="config")
        if response.status_code >= 400:
            raise ClientError(f"the server at {self.base} is not ready ({response.status_code})",
                              "wait until it has started (GET /ready answers 200) and try again",
                              kind="unreachable")
        with contextlib.suppress(ValueError, AttributeError):
            self.agent = str(response.json().get("agent") or self.agent)
        await self._probe("/v1/models")

    async def _probe(self, path: str) -> Any:
        """`GET path`; nothing listening and a refused key are the caller's `ClientError`s."""
        import httpx

        try:
            response = await self.http().get(path, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise unreachable(self.base, exc) from None
        if response.status_code == 401:
            raise auth_error("401", self.api_key_env)
        return response

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def state(self, thread_id: str) -> dict[str, Any] | None:
        """The factory's SSE and WebSocket routes have no state route; the chat keeps the last one."""
        return None

    async def graph(self) -> str | None:
        """The factory's server does not publish its graph (`factory graph SPEC` draws it)."""
        return None
