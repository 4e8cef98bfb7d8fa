"""The LangGraph side of the build context: `langgraph.json`, `pyproject.toml` and the graph module
`agent_graph.py`, imported here as LangGraph's server imports it (by file path)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import pickle
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from build_helpers import SALES_SPEC

from factory.build import SERVING_REQUIREMENTS, graph_requirements, render_context, write_context
from factory.client import TEST_FIXTURES_KEY
from factory.compiler import compile_plan
from factory.language.loader import load_spec
from graphs.fixtures import CONFIG_KEY, Fixtures
from graphs.server import TEST_MODE_ENV

SCRIPT = {"ask_company": ["Which company are you with?", "And your role?"]}


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    loaded = load_spec(SALES_SPEC)
    return render_context(loaded, compile_plan(loaded))


def _load(context: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A fresh import of the context's agent_graph.py (its graph is built at import, offline)."""
    monkeypatch.setenv("FACTORY_MODEL", "scripted")
    name = f"agent_graph_{abs(hash(context))}"
    spec = importlib.util.spec_from_file_location(name, context / "agent_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    loaded = load_spec(SALES_SPEC)
    context = write_context(loaded, compile_plan(loaded), tmp_path, with_runtime=False).path
    monkeypatch.setattr(sys, "path", list(sys.path))  # the module puts its folder first
    return _load(context, monkeypatch)


def test_langgraph_json_names_the_agent_and_its_per_run_graph(files: dict[str, bytes]) -> None:
    config = json.loads(files["langgraph.json"])
    assert config == {"dependencies": ["."], "graphs": {"sales-discovery": "./agent_graph.py:make_graph"},
                      "python_version": "3.11"}


def test_pyproject_installs_the_runtime_without_the_factory_servers_pins(files: dict[str, bytes]) -> None:
    project = tomllib.loads(files["pyproject.toml"].decode())["project"]
    assert project["name"] == "sales-discovery-agent"
    assert project["dependencies"] == graph_requirements()
    names = {dep.split("~=")[0] for dep in project["dependencies"]}
    assert {"langgraph", "langchain-core", "langchain-openai", "common-expression-language"} <= names
    assert not names & {r.split("[")[0] for r in SERVING_REQUIREMENTS}, "langserve's sse-starlette<2 clashes"
    assert all("~=" in dep for dep in project["dependencies"])


def test_the_module_agrees_with_the_client_and_the_server(module: ModuleType) -> None:
    assert module.TEST_FIXTURES_KEY == TEST_FIXTURES_KEY
    assert module.TEST_MODE_ENV == TEST_MODE_ENV


def test_a_fresh_thread_starts_at_the_slot_defaults(module: ModuleType) -> None:
    """No server seeds the thread on LangGraph's side: `factory.seed` does, before the spec's first node."""
    assert "factory.seed" in module.graph.get_graph().nodes
    result = asyncio.run(module.graph.ainvoke({"messages": [{"type": "human", "content": "hi"}]}))
    assert result["turns"] == 1, "count_turn added 1 to the seeded 0"
    assert result["pain_points"] == [] and result["meeting_booked"] is False


def test_fixtures_need_test_mode(module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEST_MODE_ENV, raising=False)
    config = {"configurable": {"thread_id": "t1", TEST_FIXTURES_KEY: {"script": SCRIPT}}}
    with pytest.raises(module.TestModeRequired, match=f"{TEST_MODE_ENV}=1"):
        module.make_graph(config)
    assert module.make_graph({"configurable": {"thread_id": "t1"}}) is module.graph


def _reply(graph: Any, message: str) -> str:
    result = asyncio.run(graph.ainvoke({"messages": [{"type": "human", "content": message}]}))
    return str(result["messages"][-1].content)


def test_a_threads_script_goes_on_across_its_runs(module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each turn is a separate run on LangGraph's server: the second run of the thread, which brings no
    script, gets the script's next reply; the same script brought again does not rewind it."""
    monkeypatch.setenv(TEST_MODE_ENV, "1")
    first = module.make_graph({"configurable": {"thread_id": "t2", TEST_FIXTURES_KEY: {"script": SCRIPT}}})
    fixtures = first.config["configurable"][CONFIG_KEY]
    assert isinstance(fixtures, Fixtures)
    assert _reply(first, "hi") == "Which company are you with?"
    again = module.make_graph({"configurable": {"thread_id": "t2", TEST_FIXTURES_KEY: {"script": SCRIPT}}})
    assert again.config["configurable"][CONFIG_KEY] is fixtures
    later = module.make_graph({"configurable": {"thread_id": "t2"}})
    assert _reply(later, "hello again") == "And your role?"
    other = module.make_graph({"configurable": {"thread_id": "t3"}})
    assert "no script for node 'ask_company'" in _reply(other, "hi")
    assert pickle.loads(pickle.dumps(fixtures)) == {"script": SCRIPT, "mocks": {}}, "checkpoint metadata"


def test_malformed_fixtures_are_refused_with_their_shape(module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_MODE_ENV, "1")
    with pytest.raises(ValueError, match="must hold a `script` object"):
        module.make_graph({"configurable": {"thread_id": "t4", TEST_FIXTURES_KEY: {"script": ["nope"]}}})
