"""Fixtures for the chat tests: a pty driver and real servers (see `chat_harness`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from chat_harness import GOOD_KEY, KEYS_ENV, Server, Term, base_env, start_fake_server, start_server, stop_server


@pytest.fixture
def term(tmp_path: Path) -> Iterator[Callable[..., Term]]:
    started: list[Term] = []

    def start(*args: str, **env: str) -> Term:
        t = Term(list(args), base_env(tmp_path, **env), tmp_path)
        started.append(t)
        return t

    yield start
    for t in started:
        t.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("serve"))
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that accepts only `GOOD_KEY` (serve.auth.api_keys_env set in its plan)."""
    srv = start_server(tmp_path_factory.mktemp("keyed"), keys_env=KEYS_ENV, keys=GOOD_KEY)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def fake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`fake_server.py`: 403s, bad thread ids and a 409 right after a cancel, on demand."""
    srv = start_fake_server(tmp_path_factory.mktemp("fake"))
    yield srv
    stop_server(srv)
