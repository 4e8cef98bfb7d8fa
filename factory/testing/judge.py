"""The `judge` expectation: a model reads the conversation and gives a verdict with a reason.

The verdict is structured output: the judge model is forced to call the tool
`verdict {passed: bool, reason: str}`. Offline (the scripted model) the verdict is deterministic:

- if the test's `script` has a `judge` list, its entries are the verdicts of the conversation's
  `judge` expectations in order (`{passed: bool, reason: str}`, or a bare boolean);
- otherwise the scripted judge passes when the reply is not empty, with the reason
  `scripted judge: the reply is not empty` (or `... is empty`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from graphs.plan import Plan

__all__ = ["VERDICT_TOOL", "Judge", "JudgeVerdict", "ModelJudge", "ScriptedJudge", "make_judge"]

VERDICT_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "verdict",
        "description": "Give your verdict on whether the assistant's last reply meets the criterion.",
        "parameters": {
            "type": "object",
            "properties": {
                "passed": {"type": "boolean", "description": "true when the reply meets the criterion"},
                "reason": {"type": "string", "description": "one sentence: why"},
            },
            "required": ["passed", "reason"],
            "additionalProperties": False,
        },
    },
}

_INSTRUCTIONS = (
    "You are a strict test judge for a conversational agent. Read the conversation and decide whether "
    "the assistant's LAST reply meets the criterion. Answer only by calling the `verdict` tool."
)


@dataclass(frozen=True)
class JudgeVerdict:
    passed: bool
    reason: str


class Judge(Protocol):
    async def verdict(self, *, criterion: str, reply: str, transcript: list[dict[str, str]],
                      scripted: Any = None) -> JudgeVerdict: ...


class ScriptedJudge:
    """The offline judge: scripted verdicts, else "the reply is not empty"."""

    name = "scripted"

    async def verdict(self, *, criterion: str, reply: str, transcript: list[dict[str, str]],
                      scripted: Any = None) -> JudgeVerdict:
        if isinstance(scripted, bool):
            return JudgeVerdict(scripted, f"scripted verdict: {'passed' if scripted else 'failed'}")
        if isinstance(scripted, dict) and isinstance(scripted.get("passed"), bool):
            return JudgeVerdict(scripted["passed"], str(scripted.get("reason") or "scripted verdict"))
        if reply.strip():
            return JudgeVerdict(True, "scripted judge: the reply is not empty")
        return JudgeVerdict(False, "scripted judge: the reply is empty")


class ModelJudge:
    """A chat model forced to call `verdict`."""

    def __init__(self, model: BaseChatModel, *, name: str = "model") -> None:
        self.model, self.name = model, name

    async def verdict(self, *, criterion: str, reply: str, transcript: list[dict[str, str]],
                      scripted: Any = None) -> JudgeVerdict:
        from langchain_core.messages import HumanMessage, SystemMessage

        lines = "\n".join(f"{m['role'].upper()}: {m['text']}" for m in transcript)
        prompt = f"Conversation:\n{lines}\n\nThe assistant's last reply:\n{reply}\n\nCriterion: {criterion}"
        bound = self.model.bind_tools([VERDICT_TOOL], tool_choice="verdict")
        try:
            answer = await bound.ainvoke([SystemMessage(_INSTRUCTIONS), HumanMessage(prompt)])
        except Exception as exc:  # a model failure is a failed verdict, never a crash of the run
            return JudgeVerdict(False, f"the judge model failed: {type(exc).__name__}: {exc}")
        return _parse(answer)


def _parse(answer: Any) -> JudgeVerdict:
    for call in getattr(answer, "tool_calls", None) or []:
        args = call.get("args")
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                args = None
        if call.get("name") == "verdict" and isinstance(args, dict) and isinstance(args.get("passed"), bool):
            return JudgeVerdict(args["passed"], str(args.get("reason") or "(no reason given)"))
    text = getattr(answer, "text", "") or ""
    return JudgeVerdict(False, f"the judge model did not call `verdict`: {text[:200]!r}")


def make_judge(plan: Plan, *, alias: str | None, override: str | None) -> Judge:
    """The judge for a run: the `judge` alias, else the given default alias, with the run's override.

    The scripted model (by override or by the alias's provider) gives the offline `ScriptedJudge`.
    """
    models = plan["models"]
    name = "judge" if "judge" in models else alias
    if name is None or name not in models:
        name = next(iter(models), None)
    if override:
        kind = override.partition(":")[0]
        if kind == "scripted":
            return ScriptedJudge()
    if name is None:
        return ScriptedJudge()
    settings = models[name]
    if not override and settings["provider"] == "scripted":
        return ScriptedJudge()
    from graphs.models import make_chat_model

    return ModelJudge(make_chat_model(settings, override=override), name=name)
