"""How the CLI talks: results to stdout, problems to stderr in a Rich panel, never a traceback."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from factory.errors import ExitCode, SpecError, UserError

__all__ = ["err_console", "fail", "is_stdout", "out_console", "report_spec_error", "spec_error_footer", "write_report"]

out_console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False)


def report_spec_error(exc: SpecError, *, console: Console | None = None, footer: bool = True) -> None:
    """One `file:line:column: message` line per problem (editors and CI annotators parse it), then its fix,
    then (unless the caller prints its own) a footer pointing to the language reference.

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
    if footer:
        console.print(spec_error_footer(len(exc.issues)), soft_wrap=True)


def spec_error_footer(problems: int, specs: int = 1) -> str:
    """The last line after a spec's problems: how many, and where the language is described."""
    from factory.language import LANGUAGE_DOCS

    return (f"[red]{problems} problem(s)[/] in {specs} spec(s); the spec language (every key, node kind and "
            f"expression) is described in {LANGUAGE_DOCS} of Meta-Agent Factory")


def is_stdout(path: Path | None) -> bool:
    """`--json -`: the usual convention for "standard output instead of a file"."""
    return path is not None and str(path) == "-"


def write_report(path: Path, write: Callable[[Path], None]) -> None:
    """Write a report with `write(path)`, or to standard output when `path` is `-`."""
    if not is_stdout(path):
        write(path)
        return
    with tempfile.TemporaryDirectory(prefix="factory-report-") as folder:
        temporary = Path(folder) / "report"
        write(temporary)
        sys.stdout.flush()
        sys.stdout.buffer.write(temporary.read_bytes())
        sys.stdout.flush()


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
