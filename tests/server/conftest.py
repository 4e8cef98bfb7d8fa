"""Fixtures for the server tests: a live server with the model at the wire, or on the scripted model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _server_support import ONBOARDING_SPEC, SALES_SPEC, LiveServer, echo_plan

from factory.compiler import compile_plan
from factory.language.loader import load_spec
from factory.mockllm import MockLLMServer


@pytest.fixture(scope="session")
def sales_plan() -> dict[str, Any]:
    return compile_plan(load_spec(SALES_SPEC))


@pytest.fixture
def mock_llm() -> Iterator[MockLLMServer]:
    with MockLLMServer({"default": {"text": "Hello from the mock model, nice to meet you."}}) as srv:
        yield srv


@pytest.fixture
def echo_server(mock_llm: MockLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """The echo agent with its model at the wire (mock-llm), SQLite threads in tmp_path."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("FACTORY_CHECKPOINTER", raising=False)
    monkeypatch.delenv("FACTORY_DATA_DIR", raising=False)
    with LiveServer(echo_plan(mock_llm.base_url), base_dir=tmp_path) as server:
        yield server


@pytest.fixture
def sales_server(sales_plan: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """The sales agent on the scripted model, in test mode (fixtures allowed)."""
    monkeypatch.delenv("FACTORY_CHECKPOINTER", raising=False)
    monkeypatch.delenv("FACTORY_DATA_DIR", raising=False)
    with LiveServer(
        sales_plan,
        base_dir=SALES_SPEC.parent,
        checkpointer=f"sqlite:///{tmp_path}/t.sqlite",
        model_override="scripted",
        test_mode=True,
    ) as server:
        yield server


@pytest.fixture
def onboarding_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """specs/onboarding.yaml (interrupt nodes) on the scripted model, as `factory serve --model scripted`."""
    monkeypatch.delenv("FACTORY_CHECKPOINTER", raising=False)
    monkeypatch.delenv("FACTORY_DATA_DIR", raising=False)
    with LiveServer(
        compile_plan(load_spec(ONBOARDING_SPEC)),
        base_dir=ONBOARDING_SPEC.parent,
        checkpointer=f"sqlite:///{tmp_path}/t.sqlite",
        model_override="scripted",
    ) as server:
        yield server
