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
    """Print every issue, one per block, as `file:line:column: message`."""
    console = console or err_console
    body = Text()
    for i, issue in enumerate(exc.issues):
        if i:
            body.append("\n")
        body.append(f"{issue.file}:{issue.line}:{issue.column}: ", style="bold")
        body.append(issue.message)
        if issue.node:
            body.append(f" (node {issue.node!r})", style="cyan")
        if issue.fix:
            body.append(f"\n    fix: {issue.fix}", style="green")
    count = len(exc.issues)
    console.print(Panel(body, title=f"{count} problem{'s' if count != 1 else ''} in the spec",
                        title_align="left", border_style="red", expand=False))


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
