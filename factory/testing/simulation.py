"""The simulated user of a `simulate:` conversation: it writes the next user message from the conversation so far.

Offline (the scripted model, by `--model scripted` or by the alias's provider) the test's
`script.user` plays the part, one line per turn, so the run is deterministic. Otherwise the alias
named by `simulate.model` (else `default_model`, else the only model), with the run's model
override applied, is called as a plain chat model: any OpenAI-compatible server can play the user
(a hosted model, `factory mock-llm`, a local llama.cpp server). It reads the persona, the goal and
the transcript, and answers with the user's next message, or `<END>` when the user has nothing
more to say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from factory.testing.records import Message

if TYPE_CHECKING:
    from factory.language.loader import LoadedSpec
    from factory.language.models import Simulate, TestCase
    from graphs.plan import Plan

__all__ = ["END_MARKER", "ModelUser", "ScriptedUser", "SimulatedUser", "SimulationUnavailable", "UserFailed",
           "make_user", "user_prompt"]

END_MARKER = "<END>"
"""What the user model answers when the user has nothing more to say."""

_INSTRUCTIONS = """You play a USER talking to a conversational assistant, to test the assistant.
Stay in character. Write only the user's next message: plain text, one message, no quotes, no role label, \
no commentary. Do not help the assistant or play its part. When the goal is reached, or the conversation \
cannot go further, answer with exactly {end}."""
_LABEL = re.compile(r"^\s*(?:\*\*)?(?:user|you|me)(?:\*\*)?\s*:\s*", re.IGNORECASE)


class SimulationUnavailable(Exception):
    """The simulated user cannot play at all in this run (no `script.user` offline, no usable model)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UserFailed(Exception):
    """The user model failed to write a message (a server error, a timeout)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SimulatedUser(Protocol):
    name: str

    async def next_message(self, transcript: list[Message]) -> str | None:
        """The user's next message, or None when the user has nothing more to say."""
        ...


@dataclass
class ScriptedUser:
    """The offline user: the test's `script.user`, one message per turn, then done."""

    lines: list[str]
    name: str = "scripted"
    _next: int = field(default=0, init=False)

    async def next_message(self, transcript: list[Message]) -> str | None:
        if self._next >= len(self.lines):
            return None
        self._next += 1
        return self.lines[self._next - 1]


def user_prompt(simulate: Simulate, transcript: list[Message]) -> tuple[str, str]:
    """(system, human) messages for the user model: who it is, what it wants, and the conversation.

    The conversation is written out as text in one message rather than as alternating chat roles,
    so that every chat template (including strict ones that require a user message first) accepts it.
    """
    system = _INSTRUCTIONS.format(end=END_MARKER)
    lines = [f"Your persona: {simulate.persona or 'an ordinary user of this assistant'}",
             f"Your goal: {simulate.goal}", ""]
    if transcript:
        lines.append("The conversation so far:")
        lines += [f"{'USER (you)' if m.role == 'user' else 'ASSISTANT'}: {m.text}" for m in transcript]
        lines += ["", "Write the user's next message (or " + END_MARKER + ")."]
    else:
        lines.append("The conversation has not started. Write the user's first message.")
    return system, "\n".join(lines)


class ModelUser:
    """A chat model playing the user (any provider `graphs.models.make_chat_model` builds)."""

    def __init__(self, model: Any, simulate: Simulate, *, name: str) -> None:
        self.model, self.simulate, self.name = model, simulate, name

    async def next_message(self, transcript: list[Message]) -> str | None:
        from langchain_core.messages import HumanMessage, SystemMessage

        system, human = user_prompt(self.simulate, transcript)
        try:
            answer = await self.model.ainvoke([SystemMessage(system), HumanMessage(human)])
        except Exception as exc:  # a model failure ends the conversation with a failure, never a crash
            raise UserFailed(f"the user model {self.name!r} failed: {type(exc).__name__}: {exc}") from None
        text = _clean(getattr(answer, "text", "") or "")
        return None if not text or END_MARKER in text else text


def _clean(text: str) -> str:
    """The message without a role label or surrounding quotes a model may add."""
    text = _LABEL.sub("", text.strip()).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def make_user(loaded: LoadedSpec, plan: Plan, case: TestCase, *, override: str | None,
              script: list[Any]) -> SimulatedUser:
    """Who plays the user of `case`: the scripted user offline, else the model alias.

    Raises:
        SimulationUnavailable: offline without `script.user`, or the model cannot be built.
    """
    simulate = case.simulate
    assert simulate is not None, "only a simulated conversation has a simulated user"
    models = plan["models"]
    alias = simulate.model or loaded.spec.default_model or next(iter(models), None)
    settings = models.get(alias) if alias is not None else None
    offline = (override or "").partition(":")[0] == "scripted" or (
        not override and (settings is None or settings["provider"] == "scripted"))
    if offline:
        if not script:
            raise SimulationUnavailable(
                "the simulated user is played by the scripted model here, which needs its messages: add "
                "`user: [\"first message\", \"second message\", ...]` under this conversation's `script:` (or "
                "run with a real model, e.g. `--model openai:gpt-4o-mini`)")
        return ScriptedUser([str(line) for line in script])
    from graphs.models import ModelConfigError, make_chat_model

    assert alias is not None and settings is not None  # validation requires a model for `simulate`
    try:
        model = make_chat_model(settings, override=override)
    except ModelConfigError as exc:
        raise SimulationUnavailable(f"the simulated user's model {alias!r} cannot be built: {exc}") from None
    return ModelUser(model, simulate, name=alias if not override else f"{alias} ({override})")
