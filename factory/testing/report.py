"""How a run is shown and saved: live progress, the summary, failures, coverage, JSON and JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from factory.errors import UserError
from factory.testing.records import ConversationResult, RunReport

if TYPE_CHECKING:
    from factory.testing.mutation import MutationReport

__all__ = ["live_progress", "print_mutation", "print_report", "transcript_text", "write_json", "write_junit",
           "write_mutation_json"]


@contextmanager
def live_progress(console: Console, *, label: str, total: int) -> Iterator[object]:
    """A progress callback for `run_tests`: a transient Rich bar on a terminal, plain lines otherwise."""
    if console.is_terminal:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task(escape(label), total=total)

            def on_terminal(name: str, attempt: int, attempts: int, result: ConversationResult | None) -> None:
                if result is None:
                    bar.update(task, description=escape(f"{label}: {name}"))
                    return
                bar.advance(task)
                if not result.passed:
                    console.print(f"[red]FAIL[/] {escape(_attempt_name(name, attempt, attempts))}")

            yield on_terminal
        return

    def on_plain(name: str, attempt: int, attempts: int, result: ConversationResult | None) -> None:
        if result is not None:
            verdict = "PASS" if result.passed else "FAIL"
            console.print(f"{verdict} {_attempt_name(name, attempt, attempts)} ({result.duration_ms:.0f} ms)",
                          markup=False, highlight=False)

    yield on_plain


def _attempt_name(name: str, attempt: int, attempts: int) -> str:
    return name if attempts == 1 else f"{name} [{attempt}/{attempts}]"


def print_report(report: RunReport, console: Console) -> None:
    """The summary table, each failure in full, and the coverage gaps."""
    table = Table(title=f"{report.agent} ({report.spec}) on {report.target}", title_justify="left")
    table.add_column("conversation")
    table.add_column("tags")
    table.add_column("passed", justify="right")
    table.add_column("needs", justify="right")
    table.add_column("verdict")
    for r in report.results:
        table.add_row(escape(r.name), escape(", ".join(r.tags)), f"{r.passed_attempts}/{len(r.attempts)}",
                      f"{r.min_pass_rate:.0%}", "[green]pass[/]" if r.passed else "[red]FAIL[/]")
    console.print(table)
    _print_transcripts(report, console)
    for r in report.results:
        if r.passed:
            continue
        for failure in r.failures:
            console.print(f"[red]FAILED[/] {escape(failure.render())}")
    _print_coverage(report, console)
    t = report.totals
    style = "green" if report.passed else "red"
    noun = "conversation" if t.conversations == 1 else "conversations"
    console.print(f"[{style}]{t.passed} passed, {t.failed} failed[/] of {t.conversations} {noun} "
                  f"({t.attempts_passed}/{t.attempts} attempts, {t.expectations - t.expectations_failed}/"
                  f"{t.expectations} expectations) in {report.duration_ms / 1000:.2f} s")


def transcript_text(attempt: ConversationResult) -> str:
    """An attempt's transcript, one message a line; `~` marks what the simulated user said (and its answer)."""
    lines = []
    for i, m in enumerate(attempt.transcript):
        who = "user" if m.role == "user" else "agent"
        simulated = i // 2 < len(attempt.turns) and attempt.turns[i // 2].simulated
        lines.append(f"  {'~' if simulated else ' '} {who}: {m.text}".replace("\n", "\n           "))
    sim = attempt.simulation
    if sim is not None:
        lines.append(f"    (simulated user: {sim.user}; {sim.turns} simulated turn(s); stopped: {sim.stopped})")
    return "\n".join(lines)


def _print_transcripts(report: RunReport, console: Console) -> None:
    """The transcript of every simulated conversation (its first attempt, and every failed one)."""
    for r in report.results:
        shown = [a for a in r.attempts if a.simulation is not None and (a.attempt == 1 or not a.passed)]
        for attempt in shown:
            verdict = "[green]pass[/]" if attempt.passed else "[red]FAIL[/]"
            console.print(f"{verdict} transcript of {escape(_attempt_name(r.name, attempt.attempt, len(r.attempts)))}:")
            console.print(escape(transcript_text(attempt)), highlight=False)


def _print_coverage(report: RunReport, console: Console) -> None:
    cov = report.coverage
    conditional = [e for e in cov.edges if e.when is not None]
    taken = sum(e.taken for e in conditional)
    both = sum(c.both_ways for c in cov.conditions)
    console.print(f"coverage: nodes {len(cov.visited_nodes)}/{len(cov.nodes)}, "
                  f"conditional edges {taken}/{len(conditional)}, conditions seen both ways {both}/{len(conditional)}")
    if cov.unvisited_nodes:
        console.print("  nodes no conversation visited: " + escape(", ".join(cov.unvisited_nodes)), style="yellow")
    for edge in cov.untaken_conditional_edges:
        console.print(escape(f"  edge never taken: {edge.position}: {edge.source} -> {edge.target} when {edge.when}"),
                      style="yellow")


def to_json(reports: Sequence[RunReport]) -> dict[str, object]:
    return {"version": 1, "passed": all(r.passed for r in reports),
            "reports": [r.model_dump(mode="json") for r in reports]}


@contextmanager
def _report_file(path: Path) -> Iterator[None]:
    """A report that cannot be written is a usage error with the path, not a traceback."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield
    except OSError as exc:
        raise UserError(f"cannot write the report {str(path)!r}: {exc.strerror or exc}",
                        hint="choose a writable path for --json / --junit-xml") from None


def write_json(reports: Sequence[RunReport], path: Path) -> None:
    with _report_file(path):
        path.write_text(json.dumps(to_json(reports), indent=2, default=str) + "\n", encoding="utf-8")


def write_junit(reports: Sequence[RunReport], path: Path) -> None:
    """One `<testsuite>` per spec, one `<testcase>` per conversation (all its attempts)."""
    root = ET.Element("testsuites", name="factory test")
    for report in reports:
        suite = ET.SubElement(root, "testsuite", name=report.agent, file=report.spec,
                              tests=str(len(report.results)), failures=str(report.totals.failed), errors="0",
                              skipped="0", time=f"{report.duration_ms / 1000:.3f}")
        for r in report.results:
            seconds = sum(a.duration_ms for a in r.attempts) / 1000
            case = ET.SubElement(suite, "testcase", classname=report.agent, name=r.name, file=report.spec,
                                 line=str(r.position.line), time=f"{seconds:.3f}")
            if not r.passed:
                first = r.failures[0].expectation.message if r.failures else "pass rate too low"
                failure = ET.SubElement(case, "failure", type="ConversationFailed",
                                        message=f"{r.passed_attempts}/{len(r.attempts)} attempts passed "
                                                f"(needs {r.min_pass_rate:.0%}): {first}")
                failure.text = "\n\n".join(f.render() for f in r.failures)
            transcripts = [f"attempt {a.attempt}:\n{transcript_text(a)}" for a in r.attempts if a.transcript]
            if transcripts:
                ET.SubElement(case, "system-out").text = "\n\n".join(transcripts)
    ET.indent(root)
    with _report_file(path):
        ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def print_mutation(report: MutationReport, console: Console) -> None:
    """The mutation score, the mutants per operator, and every survivor with its place and diff."""
    table = Table(title=f"mutants of {report.agent} ({report.spec})", title_justify="left")
    for column in ("operator", "killed", "survived", "invalid", "not run"):
        table.add_column(column, justify="left" if column == "operator" else "right")
    operators = dict.fromkeys(m.operator for m in report.mutants)
    for operator in operators:
        mine = [m for m in report.mutants if m.operator == operator]
        table.add_row(operator, *(str(sum(m.status == s for m in mine)) for s in ("killed", "survived", "invalid",
                                                                                  "not_run")))
    console.print(table)
    for mutant in report.survivors:
        console.print(f"[yellow]SURVIVED[/] {escape(str(mutant.position))}: {mutant.operator}: "
                      f"{escape(mutant.description)}")
        console.print(escape(mutant.diff.rstrip("\n")), highlight=False)
    for mutant in (m for m in report.mutants if m.status == "error"):
        console.print(f"[red]ERROR[/] {escape(str(mutant.position))}: {escape(mutant.description)}: "
                      f"{escape(mutant.detail)}")
    c = report.counts
    score = "n/a (no mutant ran)" if report.score is None else f"{report.score:.1%}"
    console.print(f"mutation score: [bold]{score}[/] ({c['killed']} killed, {c['survived']} survived; "
                  f"{c['invalid']} invalid mutants skipped, {c['not_run']} not run, {c['error']} errors) "
                  f"in {report.duration_ms / 1000:.1f} s on {report.workers} worker(s)")


def write_mutation_json(reports: Sequence[MutationReport], path: Path) -> None:
    with _report_file(path):
        data = {"version": 1, "mutation": [r.to_json() for r in reports]}
        path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
