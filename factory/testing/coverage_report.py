"""`factory test --coverage-report FILE.md|FILE.html`: the spec's own text, each node, edge and condition
line marked as exercised or not, with the conversations that reached it.

A node line is exercised when a conversation visited the node, an edge line when one took the edge,
and a condition (`when`) line when it was seen both true and false; seen one way only, it is marked
as partly exercised. The marks come from `RunReport.coverage` (see `factory.testing.coverage`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from factory.errors import UserError
from factory.testing.records import ConditionCoverage, Coverage, RunReport

__all__ = ["LineMark", "coverage_format", "coverage_html", "coverage_markdown", "line_marks",
           "write_coverage_report"]

Status = Literal["covered", "partial", "missed"]
_RANK: dict[Status, int] = {"covered": 0, "partial": 1, "missed": 2}
_GUTTER: dict[Status, str] = {"covered": "+", "partial": "~", "missed": "-"}
_SHOWN_NAMES = 1


@dataclass
class LineMark:
    """What one line of the spec holds (a node, an edge, a condition) and how much of it was exercised."""

    line: int
    status: Status
    notes: list[str] = field(default_factory=list)
    """One sentence per thing on the line, naming the conversations."""


def _names(names: list[str], *, limit: int | None = None) -> str:
    """The conversations, or (past `limit` of them) how many."""
    if limit is not None and len(names) > limit:
        return f"{len(names)} conversations"
    return ", ".join(repr(n) for n in names)


def _condition(cond: ConditionCoverage, when: str, limit: int | None) -> tuple[Status, str]:
    ways = []
    for word, names in (("true", cond.true_by), ("false", cond.false_by)):
        ways.append(f"{word} in {_names(names, limit=limit)}" if names else f"never {word}")
    if cond.undetermined_by:
        ways.append(f"undetermined in {_names(cond.undetermined_by, limit=limit)}")
    status: Status = "covered" if cond.both_ways else "partial" if cond.true_by or cond.false_by else "missed"
    label = "condition" if limit is not None else f"when {when}"
    return status, f"{label}: " + "; ".join(ways)


def line_marks(coverage: Coverage, *, limit: int | None = None) -> dict[int, LineMark]:
    """Line -> its mark; `limit` shortens the lists of conversation names."""
    marks: dict[int, LineMark] = {}

    def mark(line: int, status: Status, note: str) -> None:
        found = marks.setdefault(line, LineMark(line, status))
        if _RANK[status] > _RANK[found.status]:
            found.status = status
        found.notes.append(note)

    for node, pos in coverage.node_positions.items():
        by = coverage.visited_by.get(node, [])
        mark(pos.line, "covered" if by else "missed",
             f"node {node}: visited by {_names(by, limit=limit)}" if by else f"node {node}: never visited")
    for edge in coverage.edges:
        arrow = f"edge {edge.source} -> {edge.target}"
        mark(edge.position.line, "covered" if edge.taken else "missed",
             f"{arrow}: taken by {_names(edge.taken_by, limit=limit)}" if edge.taken else f"{arrow}: never taken")
        if edge.condition is not None and edge.when is not None:
            status, note = _condition(edge.condition, edge.when, limit)
            mark(edge.condition.position.line, status, note)
    return marks


def _summary(coverage: Coverage) -> str:
    edges = coverage.edges
    conditions = coverage.conditions
    return (f"nodes {len(coverage.visited_nodes)}/{len(coverage.nodes)} visited, "
            f"edges {sum(e.taken for e in edges)}/{len(edges)} taken, "
            f"conditions {sum(c.both_ways for c in conditions)}/{len(conditions)} seen both true and false")


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+|~+", text)), default=0)
    return "`" * max(3, longest + 1)


def coverage_markdown(reports: list[tuple[str, RunReport]]) -> str:
    """The Markdown report: per spec, its text with a gutter (`+` exercised, `~` a condition seen one way
    only, `-` never) and a short note at the end of each marked line, then every note in full."""
    parts = ["# Conversation coverage", "",
             "`+` exercised, `~` a condition seen only one way, `-` never exercised.", ""]
    for text, report in reports:
        cov = report.coverage
        short, full = line_marks(cov, limit=_SHOWN_NAMES), line_marks(cov)
        lines = text.splitlines()
        width = len(str(len(lines)))
        body = []
        for number, line in enumerate(lines, 1):
            found = short.get(number)
            gutter = _GUTTER[found.status] if found else " "
            note = f"   <- {' | '.join(found.notes)}" if found else ""
            body.append(f"{number:>{width}} {gutter} {line}{note}")
        fence = _fence("\n".join(body))
        parts += [f"## {report.agent} ({report.spec})", "", f"{_summary(cov)}; {len(report.results)} "
                  f"conversation(s) on {report.target}.", "", fence + "text", *body, fence, "",
                  "| line | exercised | what, and by which conversations |", "| --- | --- | --- |"]
        for number in sorted(full):
            found = full[number]
            notes = "<br>".join(n.replace("|", "\\|") for n in found.notes)
            parts.append(f"| {number} | {found.status} | {notes} |")
        parts.append("")
    return "\n".join(parts)


_CSS = """body{font-family:system-ui,sans-serif;margin:2em}table.spec{border-collapse:collapse;font:13px/1.4 \
ui-monospace,monospace}td{padding:0 .6em;vertical-align:top;white-space:pre}td.n{color:#888;text-align:right}\
tr.covered td.c{background:#e6f4ea}tr.partial td.c{background:#fff4d6}tr.missed td.c{background:#fde2e1}\
td.note{color:#555;font-family:system-ui,sans-serif;font-size:12px}"""


def coverage_html(reports: list[tuple[str, RunReport]]) -> str:
    """One self-contained page: per spec, its text line by line, green (exercised), yellow (a condition seen
    one way only) or red (never), each marked line with a short note whose tooltip names every conversation
    that reached it."""
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8"><title>Conversation coverage</title>',
           f"<style>{_CSS}</style></head><body>", "<h1>Conversation coverage</h1>"]
    for text, report in reports:
        short, full = line_marks(report.coverage, limit=_SHOWN_NAMES), line_marks(report.coverage)
        out += [f"<h2>{html.escape(report.agent)} ({html.escape(report.spec)})</h2>",
                f"<p>{html.escape(_summary(report.coverage))}; {len(report.results)} conversation(s) on "
                f"{html.escape(report.target)}. Hover a note for every conversation.</p>", '<table class="spec">']
        for number, line in enumerate(text.splitlines(), 1):
            found = short.get(number)
            status = found.status if found else ""
            note = " | ".join(html.escape(n) for n in found.notes) if found else ""
            title = html.escape("\n".join(full[number].notes), quote=True) if found else ""
            gutter = _GUTTER[found.status] if found else ""
            out.append(f'<tr class="{status}"><td class="n">{number}</td><td class="g">{gutter}</td>'
                       f'<td class="c">{html.escape(line)}</td><td class="note" title="{title}">{note}</td></tr>')
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def coverage_format(path: Path) -> Literal["md", "html"]:
    """The report's format, from the file's suffix (`.md`, `.html`, `.htm`); anything else is a usage error."""
    suffix = path.suffix.lower()
    if suffix == ".md":
        return "md"
    if suffix in (".html", ".htm"):
        return "html"
    raise UserError(f"--coverage-report {str(path)!r}: the file must end in .md or .html",
                    hint="e.g. --coverage-report coverage.html")


def write_coverage_report(path: Path, reports: list[tuple[str, RunReport]]) -> None:
    """Write the report as Markdown (`.md`) or HTML (`.html`, `.htm`); `reports` pairs each spec's text with
    its run."""
    content = coverage_markdown(reports) if coverage_format(path) == "md" else coverage_html(reports)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write the coverage report {str(path)!r}: {exc.strerror or exc}",
                        hint="choose a writable path") from None
