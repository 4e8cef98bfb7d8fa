"""The fix loop's report, in Markdown (for a pull request) and JSON (for scripts)."""

from __future__ import annotations

import dataclasses
import difflib
import json
from pathlib import Path

from factory.fix.outcome import FixOutcome

__all__ = ["final_diff", "markdown", "write_reports"]


def final_diff(outcome: FixOutcome) -> str:
    name = Path(outcome.spec).name
    return "".join(difflib.unified_diff(outcome.original_text.splitlines(keepends=True),
                                        outcome.final_text.splitlines(keepends=True),
                                        fromfile=f"a/{name}", tofile=f"b/{name}"))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _attempts(outcome: FixOutcome) -> list[str]:
    lines = ["| iteration | made on | verdict | passing | visible | held-out | reason | rationale |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for a in outcome.attempts:
        after = "-" if a.passed_after is None else f"{a.passed_before} -> {a.passed_after}"
        visible = f"{a.rates.visible}/{a.rates.visible_total}" if a.rates else "-"
        held = f"{a.rates.held_out}/{a.rates.held_out_total}" if a.rates and a.rates.held_out_total else "-"
        made = f"#{a.parent}" + (f" -> #{a.candidate}" if a.candidate is not None else "")
        lines.append(f"| {a.iteration} | {made} | {a.verdict} | {after} | {visible} | {held} | {_cell(a.reason)} | "
                     f"{_cell(a.rationale)} |")
    return lines


def _rates(outcome: FixOutcome) -> list[str]:
    """The spec's pass rates after each iteration, on the visible and the held-out conversations."""
    if outcome.baseline is None:
        return []
    lines = ["## Pass rates per iteration", "", "| iteration | spec holds | visible | held-out |",
             "| --- | --- | --- | --- |"]
    rows = [(0, 0, outcome.baseline), *outcome.iterations]
    for iteration, candidate, rates in rows:
        held = f"{rates.held_out}/{rates.held_out_total}" if rates.held_out_total else "-"
        lines.append(f"| {iteration or 'baseline'} | #{candidate} | {rates.visible}/{rates.visible_total} | {held} |")
    return [*lines, ""]


def _pareto(outcome: FixOutcome) -> list[str]:
    lines = ["## Candidates (the Pareto set)", "", outcome.applied_reason or "(no candidate)", ""]
    for c in outcome.pareto:
        mark = " (applied)" if c.id == outcome.applied else ""
        lines.append(f"- #{c.id}{mark}, iteration {c.iteration}: {c.rates}; best on {c.best_on}"
                     + (f"; breaks {c.broke}" if c.broke else ""))
    for c in outcome.pareto:
        if c.id not in (0, outcome.applied) and c.diff:
            lines += ["", f"Candidate #{c.id}, not applied:", "", "```diff", c.diff.rstrip("\n"), "```"]
    return [*lines, ""]


def markdown(outcome: FixOutcome) -> str:
    held = f"{len(outcome.holdout)} held out of the patcher's sight: {outcome.holdout}" if outcome.holdout else \
        "none held out"
    lines = [
        f"# factory fix: {outcome.spec}",
        *(["", f"**The loop stopped early: {outcome.error}**"] if outcome.error else []),
        "",
        f"- result: **{'green' if outcome.green else 'still failing'}** (stopped: {outcome.stop})",
        f"- conversations passing: {outcome.passed_before}/{outcome.total} before, "
        f"{outcome.passed_after}/{outcome.total} after",
        f"- conversations: {held}",
        f"- patcher calls: {outcome.llm_calls}; time: {outcome.duration_s} s"
        + ("; dry run (spec untouched)" if outcome.dry_run else ""),
        "",
        *_attempts(outcome),
        "",
        *_rates(outcome),
        *_pareto(outcome),
    ]
    diff = final_diff(outcome)
    lines += ["## Final diff", "", "```diff", diff.rstrip("\n") or "(no change)", "```", ""]
    return "\n".join(lines)


def write_reports(outcome: FixOutcome, base: Path) -> tuple[Path, Path]:
    """Write `<base>.md` and `<base>.json`; returns both paths."""
    md, js = base.with_name(f"{base.name}.md"), base.with_name(f"{base.name}.json")
    md.write_text(markdown(outcome), "utf-8")
    data = dataclasses.asdict(outcome)
    data.pop("original_text")
    data["final_text"] = None
    data["green"] = outcome.green
    data["diff"] = final_diff(outcome)
    data["iterations"] = [{"iteration": i, "applied": c, **dataclasses.asdict(r)} for i, c, r in outcome.iterations]
    js.write_text(json.dumps(data, indent=2, default=str) + "\n", "utf-8")
    return md, js
