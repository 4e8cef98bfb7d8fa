"""API keys: `serve.auth.api_keys_env` names a variable holding one or more keys (comma-separated).

A request carries its key as `Authorization: Bearer KEY` or `X-API-Key: KEY` (the `openai` SDK sends
the former). Browsers cannot set headers on a WebSocket, so `/ws/...` also accepts `?api_key=KEY`;
and a `factory_api_key` cookie (SameSite=Strict, set by the `/test/streaming` page) lets the
LangServe playground, which sends no headers, work behind a key. Without a valid key: HTTP 401, or
the WebSocket is accepted and closed at once with code 1008 (policy violation) and a reason that
says "api key" (a bad thread id also closes with 1008, reason `bad thread id`).

The check is plain ASGI middleware so it covers every route, LangServe's included.
"""

from __future__ import annotations

import hmac
import os
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from graphs.plan import ServePlan
from graphs.server._errors import ApiError, error_response

__all__ = ["AUTH_REASON", "COOKIE", "OPEN_PATHS", "ApiKeyMiddleware", "AuthConfigError", "load_api_keys"]

COOKIE = "factory_api_key"
WS_POLICY_VIOLATION = 1008
# The close reason of a WebSocket without a valid key; clients tell it from `bad thread id` by "api key".
AUTH_REASON = "invalid or missing api key (send ?api_key=KEY or an Authorization header)"
# Routes that reveal nothing and run nothing: probes, docs and static pages (their API calls are checked).
OPEN_PATHS = ("/health", "/ready", "/metrics", "/docs", "/redoc", "/openapi.json", "/test/streaming", "/favicon.ico",
              "/.well-known/agent-card.json")  # A2A discovery: the card says which keys `/a2a` needs


class AuthConfigError(RuntimeError):
    """Auth is configured but no key is available: refuse to start rather than serve unprotected."""


def load_api_keys(serve: ServePlan) -> frozenset[str]:
    """The accepted keys; empty when the spec asks for no auth."""
    auth = serve["auth"]
    if not auth:
        return frozenset()
    env = auth["api_keys_env"]
    keys = frozenset(k.strip() for k in os.environ.get(env, "").split(",") if k.strip())
    if not keys:
        raise AuthConfigError(
            f"serve.auth.api_keys_env names ${env}, which is empty or unset; "
            f"export {env}=KEY1,KEY2 (or remove serve.auth to serve without keys)"
        )
    return keys


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, *, keys: frozenset[str], open_prefixes: tuple[str, ...] = ()) -> None:
        self.app, self.keys, self.open_prefixes = app, keys, open_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.keys or self._is_open(scope):
            await self.app(scope, receive, send)
            return
        if any(self._valid(key) for key in self._presented(scope)):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await _close_ws(receive, send)
        else:
            await _unauthorized(scope, receive, send)

    def _is_open(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and scope.get("method") == "OPTIONS":
            return True  # CORS preflight never carries credentials
        if path in OPEN_PATHS:
            return True
        # the playground's HTML and assets (its API calls go to other paths and are checked)
        return scope.get("method") == "GET" and any(path.startswith(p) for p in self.open_prefixes)

    def _valid(self, presented: str | None) -> bool:
        if not presented:
            return False
        return any(hmac.compare_digest(presented.encode(), key.encode()) for key in self.keys)

    @staticmethod
    def _presented(scope: Scope) -> list[str]:
        """The key the request carries, as candidates (a cookie's value raw and URL-decoded)."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return [auth[7:].strip()]
        if headers.get("x-api-key"):
            return [headers["x-api-key"].strip()]
        if scope["type"] == "websocket":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if query.get("api_key"):
                return [query["api_key"][0]]
        if "cookie" in headers:
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(headers["cookie"])
            except Exception:  # a malformed cookie header is just no key
                return []
            if COOKIE in cookie:
                # /test/streaming stores encodeURIComponent(key): a key with `/`, `+` or `=` arrives quoted
                value = cookie[COOKIE].value
                return [value, unquote(value)]
        return []


async def _unauthorized(scope: Scope, receive: Receive, send: Send) -> None:
    error = ApiError("unauthorized", "a valid API key is required: send `Authorization: Bearer KEY` or "
                                     "`X-API-Key: KEY`", headers={"WWW-Authenticate": "Bearer"})
    await error_response(scope, error)(scope, receive, send)


async def _close_ws(receive: Receive, send: Send) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send(
        {
            "type": "websocket.close",
            "code": WS_POLICY_VIOLATION,
            "reason": AUTH_REASON,
        }
    )
