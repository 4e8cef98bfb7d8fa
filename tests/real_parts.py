"""The real parts a test needs (a database, a tool on the machine): skip when one is missing, unless CI
set its `FACTORY_REQUIRE_<PART>=1`, which turns the skip into a failure."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["postgres_or_skip", "unavailable"]


def unavailable(variable: str, reason: str) -> NoReturn:
    """Skip with `reason`; fail instead when `variable` is `1` (CI requires the part)."""
    if os.environ.get(variable) == "1":
        pytest.fail(f"{variable}=1 but {reason}")
    pytest.skip(reason)


def postgres_or_skip(url: str) -> str:
    """`url` when a Postgres answers there; else skip (fail under FACTORY_REQUIRE_POSTGRES=1)."""
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:  # any failure to connect means "not here"
        unavailable("FACTORY_REQUIRE_POSTGRES", f"Postgres is unreachable at {url}: {type(exc).__name__}: {exc}")
    return url
