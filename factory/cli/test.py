"""`factory test SPEC...`: run the specs' `tests:` conversations and report (exit 0/1/3/5)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from factory.cli._common import ModelOption
from factory.errors import ExitCode, UserError

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["register", "test"]


def test(
    specs: Annotated[list[Path], typer.Argument(help="Spec files whose conversations to run.", show_default=False)],
    target: Annotated[str, typer.Option(
        "--target", help="`inprocess`, the URL of a `factory serve --test-mode` server, `local` or `docker`.")
    ] = "inprocess",
    pattern: Annotated[str | None, typer.Option(
        "-k", help="Only conversations whose name contains this text (or matches this glob).")] = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", help="Only conversations with this tag (repeatable).")
                    ] = None,
    jobs: Annotated[int, typer.Option("-j", "--jobs", min=1, help="Conversations run at the same time.")] = 1,
    junit_xml: Annotated[Path | None, typer.Option(
        "--junit-xml", help="Write a JUnit XML report here (`-`: standard output).")] = None,
    json_path: Annotated[Path | None, typer.Option(
        "--json", help="Write the full results as JSON here (`-`: standard output).")] = None,
    repeat: Annotated[int | None, typer.Option(
        "--repeat", min=1, help="Run every conversation N times (overrides each test's `repeat`).")] = None,
    model: ModelOption = None,
) -> None:
    """Run the scripted conversations of each SPEC and report; offline (`scripted`) unless --model says otherwise.

    Exit 0 when every conversation passed, 1 when one failed, 3 for an invalid spec, 5 when no
    conversation matched.
    """
    from factory.cli._common import load_plan
    from factory.cli._output import err_console, write_report
    from factory.testing.report import live_progress, print_report, write_json, write_junit
    from factory.testing.runner import Selection, select_tests
    from factory.testing.session import arun_spec

    console = _console(json_path, junit_xml)
    selection = Selection(pattern=pattern, tags=tuple(tags or ()))
    loaded_specs = [load_plan(path) for path in specs]  # SpecError -> exit 3, before anything runs
    counts = [len(select_tests(loaded, selection)) for loaded, _ in loaded_specs]
    if sum(counts) == 0:
        err_console.print("no conversation matched" + (f" -k {pattern!r}" if pattern else "")
                          + (f" --tag {', '.join(tags or [])}" if tags else "") + f" in {', '.join(map(str, specs))}")
        raise typer.Exit(ExitCode.NOTHING_TO_RUN)
    reports = []
    for (loaded, plan), count in zip(loaded_specs, counts, strict=True):
        if count == 0:
            continue
        attempts = sum(repeat or case.repeat for _, case in select_tests(loaded, selection))
        with live_progress(console, label=loaded.spec.name, total=attempts) as progress:
            report = asyncio.run(arun_spec(loaded, plan=plan, target=target, model=model, selection=selection,
                                           repeat=repeat, jobs=jobs, progress=progress))  # type: ignore[arg-type]
        print_report(report, console)
        reports.append(report)
    if json_path:
        write_report(json_path, lambda path: write_json(reports, path))
    if junit_xml:
        write_report(junit_xml, lambda path: write_junit(reports, path))
    raise typer.Exit(ExitCode.OK if all(r.passed for r in reports) else ExitCode.TESTS_FAILED)


def _console(json_path: Path | None, junit_xml: Path | None) -> Console:
    """Where progress and the summary go: standard error when a report takes standard output (`-`)."""
    from factory.cli._output import err_console, is_stdout, out_console

    if is_stdout(json_path) and is_stdout(junit_xml):
        raise UserError("--json - and --junit-xml - would both write to standard output",
                        hint="write one of them to a file")
    return err_console if is_stdout(json_path) or is_stdout(junit_xml) else out_console


def register(app: typer.Typer) -> None:
    """Add `factory test` to the CLI (called by `factory.cli`)."""
    app.command(name="test")(test)
