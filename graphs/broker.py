"""The run broker: where a run's events go so that every replica can follow it (`serve.broker`).

Without a broker, runs live in the process that started them (`graphs.runs.LocalRunStore` and
`LocalRunStream`). With `serve.broker: redis://host:6379/0` (or `$FACTORY_BROKER`, which wins and may
hold a password the spec must not), a run's records and frames go through Redis (`graphs.redis_runs`),
so a client that reconnects through the load balancer to another replica joins the run and gets
the frames it missed (`Last-Event-ID`).

This module owns the broker URL: which one wins (`choose_broker_url`) and how it is opened.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from graphs.runs import LocalRunStore, LocalRunStream, Runs

__all__ = ["BROKER_ENV", "choose_broker_url", "open_redis", "open_runs", "redacted"]

BROKER_ENV = "FACTORY_BROKER"
_SCHEMES = ("redis://", "rediss://", "unix://")


def choose_broker_url(spec: str | None) -> str | None:
    """`$FACTORY_BROKER` (`none` turns a spec's broker off), else the spec's `serve.broker`, else None.

    Raises:
        ValueError: the URL is not a Redis URL.
    """
    url = os.environ.get(BROKER_ENV, "").strip() or spec
    if not url or url == "none":
        return None
    if not url.startswith(_SCHEMES):
        raise ValueError(f"the broker must be a Redis URL (redis://host:6379/0), got {redacted(url)!r}")
    return url


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://...@{rest.rsplit('@', 1)[1]}"


@asynccontextmanager
async def open_redis(url: str, *, timeout_s: float = 5.0) -> AsyncIterator[Any]:
    """An asyncio Redis client for the block (a connection pool; closed at the end)."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, health_check_interval=30)
    try:
        yield client
    finally:
        await client.aclose()


@asynccontextmanager
async def open_runs(broker_url: str | None, *, agent: str) -> AsyncIterator[Runs]:
    """The run bookkeeping of a server: in this process without a broker, in Redis with one (keys under
    `factory:<agent>:`); on the way out this process's runs are cancelled (each restores its thread)."""
    if broker_url is None:
        runs = Runs(LocalRunStore(), LocalRunStream())
        try:
            yield runs
        finally:
            await runs.shutdown()
        return
    from graphs.redis_runs import RedisRunStore, RedisRunStream

    prefix = f"factory:{agent}:"
    async with open_redis(broker_url) as client:
        stream = RedisRunStream(client, prefix=prefix)
        await stream.start()
        runs = Runs(RedisRunStore(client, prefix=prefix), stream)
        try:
            yield runs
        finally:
            await runs.shutdown()
            await stream.stop()
