"""How the CLI talks: results to stdout, problems to stderr in a Rich panel, never a traceback."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from factory.errors import ExitCode, SpecError, UserError

__all__ = ["err_console", "fail", "out_console", "report_spec_error"]

out_console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False)


def report_spec_error(exc: SpecError, *, console: Console | None = None) -> None:
    """One `file:line:column: message` line per problem (editors and CI annotators parse it), then its fix.

    Plain lines rather than a panel: a long path must never be wrapped or cropped.
    """
    console = console or err_console
    for issue in exc.issues:
        text = Text()
        text.append(f"{issue.file}:{issue.line}:{issue.column}: ", style="bold")
        text.append(issue.message)
        if issue.node:
            text.append(f" (node {issue.node!r})", style="cyan")
        if issue.fix:
            text.append(f"\n    fix: {issue.fix}", style="green")
        console.print(text, soft_wrap=True)


def fail(exc: UserError | SpecError) -> NoReturn:
    """Report a user mistake and exit with its code."""
    if isinstance(exc, SpecError):
        report_spec_error(exc)
        raise SystemExit(ExitCode.SPEC_INVALID)
    body = Text(exc.message)
    for line in exc.details:
        body.append(f"\n{line}")
    if exc.hint:
        body.append(f"\nhint: {exc.hint}", style="green")
    err_console.print(Panel(body, title="error", title_align="left", border_style="red", expand=False))
    sys.stderr.flush()
    raise SystemExit(exc.exit_code)
