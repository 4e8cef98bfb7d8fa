"""`factory test SPEC...`: run the specs' `tests:` conversations and report (exit 0/1/3/5); with `--mutate`,
the mutation score of each spec's suite."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from factory.cli._common import ModelOption
from factory.client import WireProtocol
from factory.errors import ExitCode, UserError

if TYPE_CHECKING:
    from rich.console import Console

    from factory.testing.runner import Selection

__all__ = ["register", "test"]


@dataclass
class _Run:
    """What every spec of one `factory test` call shares."""

    console: Console
    selection: Selection
    target: str
    model: str | None
    protocol: WireProtocol
    repeat: int | None
    jobs: int


def test(
    specs: Annotated[list[Path], typer.Argument(help="Spec files whose conversations to run.", show_default=False)],
    target: Annotated[str, typer.Option(
        "--target", help="`inprocess`, `local`, `docker`, or the URL of a server in test mode: "
                         "`factory serve --test-mode`, or an Agent Server (`langgraph dev` on `factory build`'s "
                         "context) started with FACTORY_TEST_MODE=1.")
    ] = "inprocess",
    protocol: Annotated[str, typer.Option(
        "--protocol", help="How to talk to a URL target: `auto` (ask the server), `sse`, `ws` or `agent-server`.")
    ] = "auto",
    pattern: Annotated[str | None, typer.Option(
        "-k", help="Only conversations whose name contains this text (or matches this glob).")] = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", help="Only conversations with this tag (repeatable).")
                    ] = None,
    jobs: Annotated[int | None, typer.Option(
        "-j", "--jobs", min=1, help="Conversations run at the same time; with --mutate, worker processes "
                                    "(default: the number of CPUs).")] = None,
    junit_xml: Annotated[Path | None, typer.Option(
        "--junit-xml", help="Write a JUnit XML report here (`-`: standard output).")] = None,
    json_path: Annotated[Path | None, typer.Option(
        "--json", help="Write the full results as JSON here (`-`: standard output).")] = None,
    coverage_report: Annotated[Path | None, typer.Option(
        "--coverage-report", help="Write the spec annotated with what the conversations exercised (FILE.md or "
                                  "FILE.html).")] = None,
    repeat: Annotated[int | None, typer.Option(
        "--repeat", min=1, help="Run every conversation N times (overrides each test's `repeat`).")] = None,
    mutate: Annotated[bool, typer.Option(
        "--mutate", help="Run the conversations against mutants of each spec and print the mutation score.")
    ] = False,
    min_score: Annotated[float | None, typer.Option(
        "--min-score", min=0, max=1, help="With --mutate: exit 1 when a spec's mutation score is below this.")
    ] = None,
    model: ModelOption = None,
) -> None:
    """Run the scripted conversations of each SPEC and report; offline (`scripted`) unless --model says otherwise.

    Exit 0 when every conversation passed, 1 when one failed (or, with --mutate --min-score, a score is too
    low), 3 for an invalid spec, 5 when no conversation matched.
    """
    from factory.cli._common import load_plan
    from factory.cli._output import err_console
    from factory.testing.coverage_report import coverage_format
    from factory.testing.runner import Selection, select_tests

    if protocol not in ("auto", "sse", "ws", "agent-server"):
        raise UserError(f"unknown --protocol {protocol!r}", hint="use auto, sse, ws or agent-server")
    if coverage_report is not None:
        coverage_format(coverage_report)  # a wrong suffix is a usage error before anything runs
    if min_score is not None and not mutate:
        raise UserError("--min-score goes with --mutate", hint="add --mutate, or drop --min-score")
    selection = Selection(pattern=pattern, tags=tuple(tags or ()))
    loaded_specs = [load_plan(path) for path in specs]  # SpecError -> exit 3, before anything runs
    chosen = [(loaded, plan) for loaded, plan in loaded_specs if select_tests(loaded, selection)]
    if not chosen:
        err_console.print("no conversation matched" + (f" -k {pattern!r}" if pattern else "")
                          + (f" --tag {', '.join(tags or [])}" if tags else "") + f" in {', '.join(map(str, specs))}")
        raise typer.Exit(ExitCode.NOTHING_TO_RUN)
    run = _Run(console=_console(json_path, junit_xml), selection=selection, target=target, model=model,
               protocol=protocol, repeat=repeat, jobs=jobs or 1)  # type: ignore[arg-type]
    if mutate:
        _mutate(run, chosen, json_path=json_path, junit_xml=junit_xml, min_score=min_score, jobs=jobs)
    _conversations(run, chosen, json_path=json_path, junit_xml=junit_xml, coverage_report=coverage_report)


def _conversations(run: _Run, chosen: list[tuple[Any, Any]], *, json_path: Path | None, junit_xml: Path | None,
                   coverage_report: Path | None) -> None:
    from factory.cli._output import write_report
    from factory.testing.coverage_report import write_coverage_report
    from factory.testing.report import live_progress, print_report, write_json, write_junit
    from factory.testing.runner import select_tests
    from factory.testing.session import arun_spec

    reports = []
    for loaded, plan in chosen:
        attempts = sum(run.repeat or case.repeat for _, case in select_tests(loaded, run.selection))
        with live_progress(run.console, label=loaded.spec.name, total=attempts) as progress:
            report = asyncio.run(arun_spec(loaded, plan=plan, target=run.target, model=run.model,
                                           selection=run.selection, repeat=run.repeat, jobs=run.jobs,
                                           progress=progress, protocol=run.protocol))  # type: ignore[arg-type]
        print_report(report, run.console)
        reports.append(report)
    if json_path:
        write_report(json_path, lambda path: write_json(reports, path))
    if junit_xml:
        write_report(junit_xml, lambda path: write_junit(reports, path))
    if coverage_report:
        write_coverage_report(coverage_report, [(loaded.text, r) for (loaded, _), r in zip(chosen, reports,
                                                                                            strict=True)])
        run.console.print(f"coverage report: {coverage_report}")
    raise typer.Exit(ExitCode.OK if all(r.passed for r in reports) else ExitCode.TESTS_FAILED)


def _mutate(run: _Run, chosen: list[tuple[Any, Any]], *, json_path: Path | None, junit_xml: Path | None,
            min_score: float | None, jobs: int | None) -> None:
    import os

    from factory.cli._output import write_report
    from factory.testing.mutation import arun_mutation
    from factory.testing.report import print_mutation, write_mutation_json

    if run.target != "inprocess" or junit_xml is not None:
        raise UserError("--mutate runs the mutants in-process, with JSON as its only report file",
                        hint="drop --target and --junit-xml (use --json FILE)")
    reports = []
    for loaded, _plan in chosen:
        run.console.print(f"mutating {loaded.source.file} ...")
        with run.console.status("testing the mutants") as status:
            report = asyncio.run(arun_mutation(loaded, model=run.model, selection=run.selection,
                                               jobs=jobs or os.cpu_count() or 1, on_result=_counter(status)))
        print_mutation(report, run.console)
        reports.append(report)
    if json_path:
        write_report(json_path, lambda path: write_mutation_json(reports, path))
    low = [r for r in reports if min_score is not None and (r.score is None or r.score < min_score)]
    for r in low:
        run.console.print(f"[red]{r.spec}: mutation score {r.score} is below --min-score {min_score}[/]")
    raise typer.Exit(ExitCode.TESTS_FAILED if low else ExitCode.OK)


def _counter(status: Any) -> Any:
    """A callback that shows how many mutants are done on a Rich status line."""
    done = [0]

    def tested(_result: object) -> None:
        done[0] += 1
        status.update(f"testing the mutants: {done[0]} done")

    return tested


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
