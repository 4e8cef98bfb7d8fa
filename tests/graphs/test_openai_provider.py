"""The `openai` provider: settings and `OPENAI_*` variables reach `ChatOpenAI`; the run-wide override
(`scripted`, `openai:NAME`, `FACTORY_MODEL`) replaces every model; and, against the OpenAI-compatible
fake server, a reply streams as several tokens and an extract gets its forced tool call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _graph_support import plan_of, run_turns, write_spec
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from graphs.models import ModelConfigError, make_chat_model
from graphs.models.scripted import ScriptedChatModel
from graphs.plan import ModelPlan

Runner = Callable[..., Any]


def settings(**overrides: Any) -> ModelPlan:
    base: dict[str, Any] = {"provider": "openai", "model": "gpt-4o-mini", "base_url": None,
                            "api_key_env": None, "temperature": None, "max_tokens": None, "timeout_s": 60,
                            "max_retries": 2,
                            "streaming": True}
    return base | overrides  # type: ignore[return-value]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "FACTORY_MODEL", "MY_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_settings_reach_chat_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-from-my-key")
    model = make_chat_model(settings(base_url="http://127.0.0.1:9/v1", api_key_env="MY_KEY", temperature=0.2,
                                     max_tokens=50, timeout_s=7, max_retries=1))
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "gpt-4o-mini" and model.openai_api_base == "http://127.0.0.1:9/v1"
    assert isinstance(model.openai_api_key, SecretStr)
    assert model.openai_api_key.get_secret_value() == "sk-from-my-key"
    assert (model.temperature, model.max_tokens, model.request_timeout, model.max_retries) == (0.2, 50, 7, 1)
    assert model.streaming is True


def test_openai_variables_are_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    model = make_chat_model(settings(model=None))
    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_base == "http://127.0.0.1:11434/v1"
    assert isinstance(model.openai_api_key, SecretStr) and model.openai_api_key.get_secret_value() == "sk-env"
    monkeypatch.setenv("OPENAI_MODEL", "llama3.1")
    assert make_chat_model(settings(model=None)).model_name == "llama3.1"  # type: ignore[attr-defined]


def test_spec_base_url_wins_and_a_local_server_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://elsewhere/v1")
    model = make_chat_model(settings(base_url="http://127.0.0.1:8000/v1"))
    assert model.openai_api_base == "http://127.0.0.1:8000/v1"  # type: ignore[attr-defined]


def test_a_missing_key_names_the_variable() -> None:
    with pytest.raises(ModelConfigError, match=r"\$MY_KEY.*--model scripted"):
        make_chat_model(settings(api_key_env="MY_KEY"))


@pytest.mark.parametrize(("override", "kind", "name"), [
    ("scripted", ScriptedChatModel, None),
    ("openai:qwen2.5", ChatOpenAI, "qwen2.5"),
    ("openai", ChatOpenAI, "gpt-4o-mini"),
])
def test_the_override_replaces_every_model(monkeypatch: pytest.MonkeyPatch, override: str, kind: type,
                                           name: str | None) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    model = make_chat_model(settings(), override=override)
    assert isinstance(model, kind)
    if name is not None:
        assert model.model_name == name  # type: ignore[attr-defined]
    scripted_spec = make_chat_model(settings(provider="scripted"), override="openai:phi4")
    assert isinstance(scripted_spec, ChatOpenAI) and scripted_spec.model_name == "phi4"


def test_an_unknown_override_is_refused() -> None:
    with pytest.raises(ModelConfigError, match="scripted"):
        make_chat_model(settings(), override="anthropic:claude")


SPEC = """
spec: 1
name: provider-check
models:
  main: {{provider: openai, model: mock-model, base_url: "{base_url}"}}
  judge: {{provider: openai, model: gpt-4o, api_key_env: UNSET_JUDGE_KEY}}
default_model: main
state:
  company: {{type: string, description: The company.}}
  seats: {{type: integer}}
nodes:
  understand: {{kind: extract, prompt: Record the company and seats., into: [company, seats]}}
  answer: {{kind: reply, prompt: "Greet {{{{ company }}}}."}}
edges:
  - {{from: start, to: understand}}
  - {{from: understand, to: answer}}
  - {{from: answer, to: end}}
"""


def test_factory_model_env_runs_a_hosted_spec_offline(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACTORY_MODEL", "scripted")
    spec = write_spec(tmp_path, SPEC.format(base_url="http://127.0.0.1:9/v1"))
    (turn,) = asyncio.run(run_turns(plan_of(spec), tmp_path, ["hi"], model=None))
    assert turn.reply.startswith("[scripted model: no script for node 'answer']")


def test_reply_and_extract_through_chat_openai_against_the_fake_server(tmp_path: Path) -> None:
    from factory import mockllm
    script = {"rules": [
        {"when": {"tool_name": "record_slots"},
         "tool_calls": [{"name": "record_slots", "arguments": {"company": "Acme", "seats": 40}}]},
        {"text": "Welcome, Acme! Glad to have all forty of you with us."},
    ]}
    with mockllm.MockLLMServer(script) as server:
        spec = write_spec(tmp_path, SPEC.format(base_url=server.base_url))
        (turn,) = asyncio.run(run_turns(plan_of(spec), tmp_path, ["Acme here, 40 seats"], model=None))
        requests = list(server.requests)
    assert turn.error is None, turn.error
    assert turn.state == {"company": "Acme", "seats": 40}
    tokens = turn.of("token")
    assert len(tokens) > 3 and {t["node"] for t in tokens} == {"answer"}
    assert turn.reply == "Welcome, Acme! Glad to have all forty of you with us."
    extract_request, reply_request = (r.body for r in requests)
    assert extract_request["tool_choice"]["function"]["name"] == "record_slots"
    assert reply_request["stream"] is True and reply_request["model"] == "mock-model"
    assert "Greet Acme." in reply_request["messages"][0]["content"]
