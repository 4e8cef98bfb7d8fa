"""Fixtures for the scale tests: a real Postgres, the slow counter's plan, two replicas.

Skipped when Postgres is unreachable, unless FACTORY_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from _replicas import PG_URL, SLOW_SPEC, Replica, start_replica
from real_parts import postgres_or_skip, unavailable


@pytest.fixture(scope="session")
def postgres() -> str:
    return postgres_or_skip(PG_URL)


@pytest.fixture
def slow_plan(tmp_path: Path) -> Path:
    """The slow counter's plan as a file (the image's entrypoint takes a plan)."""
    from factory.compiler import compile_plan
    from factory.language.loader import load_spec

    spec = tmp_path / "slow.yaml"
    spec.write_text(SLOW_SPEC)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(compile_plan(load_spec(spec))))
    return plan_file


@pytest.fixture
def two_replicas(request: pytest.FixtureRequest, slow_plan: Path) -> Iterator[list[Replica]]:
    """Two replicas on the checkpointer the test names with `@pytest.mark.parametrize("checkpointer", ...)`."""
    checkpointer = request.getfixturevalue("checkpointer_url")
    env = {"FACTORY_SCRIPTED_TOKEN_DELAY_MS": "30"}
    replicas = [start_replica(slow_plan, checkpointer=checkpointer, env=env) for _ in range(2)]
    try:
        yield replicas
    finally:
        for replica in replicas:
            replica.stop()


REDIS_URL = os.environ.get("FACTORY_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis (the run broker); skipped when it does not answer, unless FACTORY_REQUIRE_REDIS=1."""
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        unavailable("FACTORY_REQUIRE_REDIS", f"Redis does not answer at {REDIS_URL}: {exc}")
    return REDIS_URL
