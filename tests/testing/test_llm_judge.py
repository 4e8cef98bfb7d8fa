"""The judge: a forced `verdict` tool call on a real model, the scripted rule offline, the alias choice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import AIMessage

import factory.testing as public
from factory.testing.judge import ModelJudge, ScriptedJudge, make_judge


class FakeToolModel:
    """A chat model double at the model boundary: records the binding, answers with a fixed message."""

    def __init__(self, answer: AIMessage) -> None:
        self.answer = answer
        self.bound: dict[str, Any] = {}
        self.messages: list[Any] = []

    def bind_tools(self, tools: list[Any], *, tool_choice: str | None = None) -> FakeToolModel:
        self.bound = {"tools": tools, "tool_choice": tool_choice}
        return self

    async def ainvoke(self, messages: list[Any]) -> AIMessage:
        self.messages = messages
        return self.answer


def _verdict(answer: AIMessage) -> tuple[bool, str, FakeToolModel]:
    model = FakeToolModel(answer)
    verdict = asyncio.run(ModelJudge(model).verdict(  # type: ignore[arg-type]
        criterion="asks about budget", reply="What budget?", transcript=[{"role": "user", "text": "Acme."}]))
    return verdict.passed, verdict.reason, model


def test_model_judge_forces_the_verdict_tool() -> None:
    call = {"name": "verdict", "args": {"passed": True, "reason": "one budget question"}, "id": "c1"}
    passed, reason, model = _verdict(AIMessage(content="", tool_calls=[call]))
    assert (passed, reason) == (True, "one budget question")
    assert model.bound["tool_choice"] == "verdict"
    assert model.bound["tools"][0]["function"]["name"] == "verdict"
    prompt = model.messages[-1].content
    assert "USER: Acme." in prompt and "Criterion: asks about budget" in prompt


def test_model_judge_without_a_verdict_fails_with_the_reason() -> None:
    passed, reason, _ = _verdict(AIMessage(content="I think it is fine"))
    assert not passed
    assert reason == "the judge model did not call `verdict`: 'I think it is fine'"


@pytest.mark.parametrize(("models", "override", "kind"), [
    ({"judge": {"provider": "scripted"}, "main": {"provider": "openai"}}, None, ScriptedJudge),
    ({"main": {"provider": "openai"}}, "scripted", ScriptedJudge),
    ({"main": {"provider": "scripted"}}, None, ScriptedJudge),
])
def test_make_judge_offline(models: dict[str, Any], override: str | None, kind: type) -> None:
    assert isinstance(make_judge({"models": models}, alias="main", override=override), kind)  # type: ignore[typeddict-item]


def test_make_judge_uses_the_judge_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    settings = {"provider": "openai", "model": "judge-model", "base_url": None, "api_key_env": None,
                "temperature": None, "max_tokens": None, "timeout_s": 5, "max_retries": 0, "streaming": True}
    plan: Any = {"models": {"main": {**settings, "model": "main-model"}, "judge": settings}}
    judge = make_judge(plan, alias="main", override=None)
    assert isinstance(judge, ModelJudge) and judge.name == "judge"
    assert judge.model.model_name == "judge-model"  # type: ignore[attr-defined]


def test_exported_names() -> None:
    for name in public.__all__:
        assert getattr(public, name) is not None
    with pytest.raises(AttributeError):
        public.nothing_here  # noqa: B018
