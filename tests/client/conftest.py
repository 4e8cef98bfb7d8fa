"""Fixtures of the client tests: `langgraph dev` serving generated build contexts (see `langgraph_dev_support`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_dev_support import SPECS, build_context, langgraph_dev, langgraph_venv


@pytest.fixture(scope="session")
def lg_venv() -> Path:
    return langgraph_venv()


@pytest.fixture(scope="module")
def sales_in_test_mode(lg_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The sales agent's generated context on `langgraph dev`, FACTORY_TEST_MODE=1 (scripts accepted)."""
    context = build_context(SPECS / "sales_discovery.yaml", tmp_path_factory.mktemp("lg-sales"))
    with langgraph_dev(lg_venv, context) as url:
        yield url


@pytest.fixture(scope="module")
def sales_in_production(lg_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same context without test mode, streaming slowly enough to cancel mid-reply (50 ms a token)."""
    context = build_context(SPECS / "sales_discovery.yaml", tmp_path_factory.mktemp("lg-sales-prod"))
    with langgraph_dev(lg_venv, context, test_mode=False, FACTORY_SCRIPTED_TOKEN_DELAY_MS="50") as url:
        yield url
