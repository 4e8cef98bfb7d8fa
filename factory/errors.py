"""Errors a user can cause, and the exit codes the CLI returns for them.

A user mistake never surfaces as a traceback: it is a `SpecError` (one or more problems in a
spec file, each with its position) or a `UserError` (anything else: bad flags, a server that is
down). `assert` is kept for our own invariants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

__all__ = ["ExitCode", "SpecError", "SpecIssue", "UserError"]


class ExitCode(IntEnum):
    """Process exit codes shared by every `factory` verb."""

    OK = 0
    TESTS_FAILED = 1
    USAGE = 2
    SPEC_INVALID = 3
    BUILD_FAILED = 4
    NOTHING_TO_RUN = 5


@dataclass(frozen=True, order=True)
class SpecIssue:
    """One problem in a spec, at a place a user can jump to.

    Attributes:
        file: the spec file as the user named it.
        line: 1-based line of the offending value (0 when the problem has no place, e.g. empty file).
        column: 1-based column.
        message: what is wrong, including the value given (`!r`).
        node: the node id the problem belongs to, when there is one.
        fix: text the user can paste or do to fix it.
        rank: 0 for a cause (a wrong shape, an unknown name), 1 for what may follow from one (the
            graph's shape); causes are listed first.
    """

    file: str
    line: int
    column: int
    message: str
    node: str | None = None
    fix: str | None = None
    rank: int = 0

    def render(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        text = f"{where}: {self.message}"
        if self.node:
            text += f" (node {self.node!r})"
        if self.fix:
            text += f"\n    fix: {self.fix}"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "node": self.node,
            "fix": self.fix,
        }


class SpecError(Exception):
    """Every problem found in one spec, reported together."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        assert issues, "a SpecError needs at least one issue"
        self.issues = sorted(set(issues), key=lambda i: (i.rank, i.file, i.line, i.column, i.message))
        super().__init__("\n".join(issue.render() for issue in self.issues))


@dataclass
class UserError(Exception):
    """A mistake outside a spec file (a flag, a URL, a missing engine), with a hint to fix it."""

    message: str
    hint: str | None = None
    exit_code: ExitCode = ExitCode.USAGE
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"
