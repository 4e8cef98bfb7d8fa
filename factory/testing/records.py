"""What a test run produces, as data: the input of reports, the pytest plugin and the fix loop.

Every class is a pydantic model, so a report round-trips through JSON
(`RunReport.model_dump_json()` / `RunReport.model_validate_json()`). The fix loop reads
`RunReport.failures()`: one `FailureRecord` per failed expectation, carrying the transcript so
far, the expectation with its spec position, what was seen, the path and the state.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ConditionCoverage",
    "ConversationResult",
    "Coverage",
    "EdgeCoverage",
    "ExpectationKind",
    "ExpectationResult",
    "ExpectationScope",
    "FailureRecord",
    "Message",
    "RunReport",
    "Simulation",
    "SpecPosition",
    "StopReason",
    "TestCaseResult",
    "ToolCall",
    "Totals",
    "TurnResult",
]

ExpectationKind = Literal[
    "contains", "not_contains", "matches", "visited", "not_visited", "state", "assert", "tool_called",
    "first_token_ms", "total_ms", "judge",
    "turn",  # synthetic: the turn itself failed (an `error` event, a dropped connection)
    "simulate",  # synthetic: the simulated user could not play (no `script.user` offline, its model failed)
]
ExpectationScope = Literal["turn", "each_turn", "at_end"]
StopReason = Literal["stop_when", "max_turns", "user_done", "turn_failed", "user_failed", "stop_when_failed"]
"""Why a simulated conversation ended: its `stop_when` held, `max_turns` were played, the user had no more
to say (the scripted user's lines ran out, or the model answered `<END>`), a turn failed, the simulated
user could not write a message, or `stop_when` could not be evaluated."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpecPosition(_Record):
    """A place in a spec file a user (or the patcher) can jump to."""

    file: str
    line: int
    column: int
    pointer: str = ""
    """JSON Pointer of the value in the spec document, e.g. `/tests/1/turns/0/expect/2`."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class ToolCall(_Record):
    """One `tool` event of a turn."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    node: str | None = None


class Message(_Record):
    """One line of a transcript."""

    role: Literal["user", "assistant"]
    text: str


class ExpectationResult(_Record):
    """The verdict of one expectation on one turn."""

    kind: ExpectationKind
    expected: Any
    passed: bool
    seen: Any = None
    """What the expectation looked at (the reply, the path, the slots, the timings...)."""
    message: str = ""
    """Why it failed, in one line; empty when it passed."""
    position: SpecPosition
    index: int = -1
    """Index in its list (`expect`, `each_turn` or `at_end`); -1 for the synthetic kinds."""
    scope: ExpectationScope = "turn"
    """Where it is written: the turn's `expect`, the conversation's `each_turn` or its `at_end`."""


class TurnResult(_Record):
    """What one user turn did, summarised from its events, and the verdicts on it."""

    index: int
    user: str
    simulated: bool = False
    """The user message was written by the simulated user."""
    reply: str = ""
    path: list[str] = Field(default_factory=list)
    tools: list[ToolCall] = Field(default_factory=list)
    state: dict[str, Any] = Field(default_factory=dict)
    interrupted: bool = False
    first_token_ms: float | None = None
    """From sending the message to the first `token` event, as the client saw it."""
    total_ms: float | None = None
    """From sending the message to the `end` event, as the client saw it."""
    error: dict[str, Any] | None = None
    """The `error` event's data (`code`, `message`, `retryable`), or a client-side failure."""
    expectations: list[ExpectationResult] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.error is None and all(e.passed for e in self.expectations)


class FailureRecord(_Record):
    """One failed expectation, with everything needed to understand or repair it."""

    spec: str
    conversation: str
    attempt: int
    turn: int
    """0-based index of the turn in the conversation (fixed turns first, then simulated ones)."""
    user: str
    transcript: list[Message]
    """The conversation up to and including this turn's reply."""
    expectation: ExpectationResult
    seen: Any = None
    path: list[str] = Field(default_factory=list)
    state: dict[str, Any] = Field(default_factory=dict)
    tools: list[ToolCall] = Field(default_factory=list)
    error: dict[str, Any] | None = None

    @property
    def reply(self) -> str:
        """The reply of the failed turn."""
        last = self.transcript[-1] if self.transcript else None
        return last.text if last is not None and last.role == "assistant" else ""

    def render(self) -> str:
        """The readable failure text (CLI, pytest) - one block per failure."""
        exp = self.expectation
        if exp.kind == "simulate":
            where = f"the simulated user, after {len(self.transcript) // 2} turn(s)"
        elif exp.scope == "at_end":
            where = f"at the end, last turn {self.turn + 1}: {self.user!r}"
        else:
            where = f"turn {self.turn + 1}: {self.user!r}"
        lines = [
            f"{self.conversation} (attempt {self.attempt}), {where}",
            f"  {exp.position}: {exp.kind}: {_short(exp.expected)}",
            f"  failed: {exp.message}",
            f"  reply: {_short(self.reply)}",
            f"  path: {' > '.join(self.path) if self.path else '(none)'}",
        ]
        if self.tools:
            calls = (f"{t.name}({_short(t.args)}) -> {_short(t.result)}" for t in self.tools)
            lines.append("  tools: " + "; ".join(calls))
        lines.append(f"  state: {_short(self.state, limit=400)}")
        if self.error:
            lines.append(f"  error: {self.error.get('code')}: {self.error.get('message')}")
        return "\n".join(lines)


class Simulation(_Record):
    """How the simulated user played its part in one attempt."""

    user: str
    """Who played the user: `scripted` (the test's `script.user`) or the model alias (and its override)."""
    turns: int = 0
    """Messages the simulated user wrote."""
    stopped: StopReason = "max_turns"


class ConversationResult(_Record):
    """One attempt at one conversation."""

    name: str
    attempt: int
    """1-based."""
    passed: bool
    thread_id: str | None = None
    turns: list[TurnResult] = Field(default_factory=list)
    at_end: list[ExpectationResult] = Field(default_factory=list)
    """The verdicts of the conversation's `at_end` checks."""
    transcript: list[Message] = Field(default_factory=list)
    """Every message of the attempt, in order."""
    simulation: Simulation | None = None
    """Set for a conversation with `simulate`."""
    failures: list[FailureRecord] = Field(default_factory=list)
    duration_ms: float = 0.0


class TestCaseResult(_Record):
    """All attempts at one conversation, and the `repeat`/`min_pass_rate` verdict."""

    __test__ = False  # not a pytest class

    name: str
    tags: list[str] = Field(default_factory=list)
    position: SpecPosition
    attempts: list[ConversationResult] = Field(default_factory=list)
    passed_attempts: int = 0
    pass_rate: float = 0.0
    min_pass_rate: float = 1.0
    passed: bool = False

    @property
    def failures(self) -> list[FailureRecord]:
        return [f for attempt in self.attempts for f in attempt.failures]


class ConditionCoverage(_Record):
    """Which way an edge's `when` went, and in which conversations.

    Read from the turns' paths: edges leaving a node are tried in order and the first that holds is
    taken, so when a turn went from `a` to `x`, every condition of an edge from `a` listed before the
    edge to `x` was false and that edge's own condition was true. When several edges join `a` to `x`,
    the path cannot tell which of them held: those conversations are `undetermined_by`.
    """

    true_by: list[str] = Field(default_factory=list)
    false_by: list[str] = Field(default_factory=list)
    undetermined_by: list[str] = Field(default_factory=list)
    position: SpecPosition

    @property
    def both_ways(self) -> bool:
        return bool(self.true_by and self.false_by)


class EdgeCoverage(_Record):
    """One edge of the spec and whether any conversation took it."""

    index: int
    source: str
    target: str
    when: str | None = None
    taken: bool
    position: SpecPosition
    taken_by: list[str] = Field(default_factory=list)
    """The conversations that took it."""
    condition: ConditionCoverage | None = None
    """For an edge with `when`: which way the condition went."""


class Coverage(_Record):
    """Which nodes and conditional edges the conversations exercised."""

    nodes: list[str] = Field(default_factory=list)
    visited_nodes: list[str] = Field(default_factory=list)
    unvisited_nodes: list[str] = Field(default_factory=list)
    visited_by: dict[str, list[str]] = Field(default_factory=dict)
    """Node -> the conversations that visited it."""
    node_positions: dict[str, SpecPosition] = Field(default_factory=dict)
    """Node -> where it is defined."""
    edges: list[EdgeCoverage] = Field(default_factory=list)

    @property
    def untaken_conditional_edges(self) -> list[EdgeCoverage]:
        return [e for e in self.edges if e.when is not None and not e.taken]

    @property
    def conditions(self) -> list[ConditionCoverage]:
        return [e.condition for e in self.edges if e.condition is not None]


class Totals(_Record):
    conversations: int = 0
    passed: int = 0
    failed: int = 0
    attempts: int = 0
    attempts_passed: int = 0
    turns: int = 0
    expectations: int = 0
    expectations_failed: int = 0


class RunReport(_Record):
    """The result of running one spec's conversations against one target."""

    spec: str
    agent: str
    target: str
    model: str | None = None
    results: list[TestCaseResult] = Field(default_factory=list)
    coverage: Coverage = Field(default_factory=Coverage)
    totals: Totals = Field(default_factory=Totals)
    duration_ms: float = 0.0

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def failures(self) -> list[FailureRecord]:
        """Failure records of the conversations that failed (the fix loop's input)."""
        return [f for r in self.results if not r.passed for f in r.failures]


def _short(value: Any, *, limit: int = 200) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."
