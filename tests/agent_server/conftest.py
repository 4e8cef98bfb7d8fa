"""Fixtures: `factory serve` processes speaking the Agent Server API, and the fake model they call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _serve import CHAT_SPEC, ONBOARDING_SPEC, REPLY, Served, factory_serve

from factory.mockllm import MockLLMServer

DEFAULT_SCRIPT = {"default": {"text": REPLY}}


@pytest.fixture(scope="module")
def mock_llm() -> Iterator[MockLLMServer]:
    with MockLLMServer(DEFAULT_SCRIPT) as server:
        yield server


@pytest.fixture
def model(mock_llm: MockLLMServer) -> Iterator[MockLLMServer]:
    """The fake model with the default script; a test may change it (it is put back afterwards)."""
    mock_llm.set_script(DEFAULT_SCRIPT)
    yield mock_llm
    mock_llm.set_script(DEFAULT_SCRIPT)


@pytest.fixture(scope="module")
def chat_server(mock_llm: MockLLMServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`factory serve tests/agent_server/specs/chat.yaml`, its model the fake model server, SQLite threads."""
    env = {"OPENAI_BASE_URL": mock_llm.base_url, "OPENAI_API_KEY": "sk-test"}
    with factory_serve(CHAT_SPEC, tmp_path_factory.mktemp("chat"), env=env) as served:
        yield served


@pytest.fixture(scope="module")
def onboarding_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`factory serve specs/onboarding.yaml --model scripted` (interrupt nodes, a subgraph)."""
    with factory_serve(ONBOARDING_SPEC, tmp_path_factory.mktemp("onboarding"), "--model", "scripted") as served:
        yield served
