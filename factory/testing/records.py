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
    "ConversationResult",
    "Coverage",
    "EdgeCoverage",
    "ExpectationKind",
    "ExpectationResult",
    "FailureRecord",
    "Message",
    "RunReport",
    "SpecPosition",
    "TestCaseResult",
    "ToolCall",
    "Totals",
    "TurnResult",
]

ExpectationKind = Literal[
    "contains", "not_contains", "matches", "visited", "not_visited", "state", "assert", "tool_called",
    "first_token_ms", "total_ms", "judge",
    "turn",  # synthetic: the turn itself failed (an `error` event, a dropped connection)
]


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
    """Index in the turn's `expect` list (-1 for the synthetic `turn` kind)."""


class TurnResult(_Record):
    """What one user turn did, summarised from its events, and the verdicts on it."""

    index: int
    user: str
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
    """0-based index of the turn in the conversation's `turns`."""
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
        lines = [
            f"{self.conversation} (attempt {self.attempt}), turn {self.turn + 1}: {self.user!r}",
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


class ConversationResult(_Record):
    """One attempt at one conversation."""

    name: str
    attempt: int
    """1-based."""
    passed: bool
    thread_id: str | None = None
    turns: list[TurnResult] = Field(default_factory=list)
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


class EdgeCoverage(_Record):
    """One edge of the spec and whether any conversation took it."""

    index: int
    source: str
    target: str
    when: str | None = None
    taken: bool
    position: SpecPosition


class Coverage(_Record):
    """Which nodes and conditional edges the conversations exercised."""

    nodes: list[str] = Field(default_factory=list)
    visited_nodes: list[str] = Field(default_factory=list)
    unvisited_nodes: list[str] = Field(default_factory=list)
    edges: list[EdgeCoverage] = Field(default_factory=list)

    @property
    def untaken_conditional_edges(self) -> list[EdgeCoverage]:
        return [e for e in self.edges if e.when is not None and not e.taken]


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
