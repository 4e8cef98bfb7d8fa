"""The spec language's conversations (`tests:`, read by `factory test`) and the fix loop's settings
(`fix:`, read by `factory fix`), as pydantic models; `factory.language.models` exports them with
the rest of the spec (see its docstring for the conventions).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from factory.language._model import _Model

__all__ = ["Expectation", "FixSettings", "HoldoutShare", "Simulate", "TestCase", "ToolCallExpect", "Turn"]


class ToolCallExpect(_Model):
    """A tool call a turn must have made."""

    name: str
    """The tool's name."""
    args: dict[str, Any] | None = None
    """Arguments that must match (a subset)."""


class Expectation(_Model):
    """One check on a turn: exactly one key."""

    contains: str | None = None
    """The reply contains this text (case-sensitive)."""
    not_contains: str | None = None
    """The reply does not contain this text."""
    matches: str | None = None
    """The reply matches this regular expression (`re.search`; `(?i)` ignores case)."""
    visited: list[str] | None = None
    """These nodes ran, in this order (others may run between them)."""
    not_visited: list[str] | None = None
    """None of these nodes ran."""
    state: dict[str, Any] | None = None
    """The slots hold these values after the turn (mappings match as subsets)."""
    assert_: str | None = Field(default=None, alias="assert")
    """A CEL expression over `state` and `reply` that must be `true`."""
    tool_called: ToolCallExpect | None = None
    """Some call of this tool had (at least) these arguments."""
    first_token_ms: float | None = Field(default=None, gt=0)
    """The first token came within this many milliseconds."""
    total_ms: float | None = Field(default=None, gt=0)
    """The turn ended within this many milliseconds."""
    judge: str | None = None
    """A criterion the judge model must find true of the reply."""

    def kind(self) -> str:
        """The one key that is set."""
        (name,) = self.model_fields_set
        return "assert" if name == "assert_" else name

    @field_validator("matches")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class Turn(_Model):
    """One user message and the checks on the agent's turn."""

    user: str
    """What the user says (also the answer when the agent is waiting at an interrupt)."""
    expect: list[Expectation] = Field(default_factory=list)
    """Checks on the turn, one key each."""


class Simulate(_Model):
    """A model plays the user toward a goal, one message per turn, after the fixed `turns` (if any)."""

    persona: str = ""
    """Who the simulated user is (tone, role, what they know), in a sentence or two."""
    goal: str = Field(min_length=1)
    """What the simulated user wants from the conversation."""
    max_turns: int = Field(default=5, ge=1, le=50)
    """Simulated user messages at most (the fixed `turns` do not count)."""
    stop_when: str | None = None
    """A CEL condition over `state` and `reply`, checked after every turn: the conversation ends when it holds."""
    model: str | None = None
    """The `models` alias that plays the user (default `default_model`); offline, `script.user` plays it."""


class TestCase(_Model):
    """One conversation: fixed `turns`, a simulated user (`simulate`), or fixed turns then a simulated user."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": ["turns"]}, {"required": ["simulate"]}]})

    name: str = Field(min_length=1)
    """Unique among the spec's conversations."""
    tags: list[str] = Field(default_factory=list)
    """Labels to select conversations by (`factory test --tag`)."""
    repeat: int = Field(default=1, ge=1, le=100)
    """Run the conversation this many times..."""
    min_pass_rate: float = Field(default=1.0, ge=0, le=1)
    """...and require this share of the runs to pass (real models are not deterministic)."""
    mocks: dict[str, Any] = Field(default_factory=dict)
    """Tool name -> the result to return instead of calling it."""
    script: dict[str, list[Any]] = Field(default_factory=dict)
    """Node id -> replies of the scripted model for that node, in order (offline runs only); `user`: the
    simulated user's messages, `judge`: the offline judge's verdicts."""
    turns: list[Turn] = Field(default_factory=list)
    """The user's messages, in order, each with its checks (needed unless `simulate` is given)."""
    simulate: Simulate | None = None
    """A simulated user that continues the conversation after `turns`."""
    each_turn: list[Expectation] = Field(default_factory=list)
    """Checks on every turn of a simulated conversation (fixed and simulated turns alike)."""
    at_end: list[Expectation] = Field(default_factory=list)
    """Checks on the whole simulated conversation when it ends: the last reply, the final state, every node
    visited and tool called on the way; a `judge` reads the whole transcript."""


class HoldoutShare(_Model):
    """A share of the conversations held out of the patcher's sight, chosen by a seeded split."""

    share: float = Field(gt=0, lt=1)
    """The share of conversations held out (at least one, never all)."""
    seed: int = 0
    """The seed of the split: the same seed holds out the same conversations."""


class FixSettings(_Model):
    """What `factory fix` may change, and its budget."""

    editable: list[str] = Field(default_factory=lambda: ["/prompts/*", "/nodes/*/prompt", "/edges/*/when"])
    """JSON Pointer globs the patcher may touch."""
    max_iterations: int = Field(default=5, ge=1, le=50)
    """Patches tried before the loop gives up."""
    model: str | None = None
    """A `models` alias for the patcher (default `default_model`)."""
    max_llm_calls: int = Field(default=20, ge=1, le=500)
    """Calls to the patcher model before the loop gives up."""
    max_wall_s: float = Field(default=1800, gt=0)
    """Wall-clock cap of one `factory fix` run."""
    holdout: list[str] | HoldoutShare | None = None
    """Conversations the patcher never sees (names or tags, or `{share, seed}`); a patch must not break them."""
