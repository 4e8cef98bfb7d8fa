"""The fix loop's report, in Markdown (for a pull request) and JSON (for scripts)."""

from __future__ import annotations

import dataclasses
import difflib
import json
from pathlib import Path

from factory.fix.loop import FixOutcome

__all__ = ["final_diff", "write_reports"]


def final_diff(outcome: FixOutcome) -> str:
    name = Path(outcome.spec).name
    return "".join(difflib.unified_diff(outcome.original_text.splitlines(keepends=True),
                                        outcome.final_text.splitlines(keepends=True),
                                        fromfile=f"a/{name}", tofile=f"b/{name}"))


def markdown(outcome: FixOutcome) -> str:
    lines = [
        f"# factory fix: {outcome.spec}",
        *(["", f"**The loop stopped early: {outcome.error}**"] if outcome.error else []),
        "",
        f"- result: **{'green' if outcome.green else 'still failing'}** (stopped: {outcome.stop})",
        f"- conversations passing: {outcome.passed_before}/{outcome.total} before, "
        f"{outcome.passed_after}/{outcome.total} after",
        f"- patcher calls: {outcome.llm_calls}; time: {outcome.duration_s} s"
        + ("; dry run (spec untouched)" if outcome.dry_run else ""),
        "",
        "| iteration | verdict | passing | reason | rationale |",
        "| --- | --- | --- | --- | --- |",
    ]
    for a in outcome.attempts:
        after = "-" if a.passed_after is None else f"{a.passed_before} -> {a.passed_after}"
        reason = a.reason.replace("|", "\\|").replace("\n", " ")
        rationale = a.rationale.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {a.iteration} | {a.verdict} | {after} | {reason} | {rationale} |")
    diff = final_diff(outcome)
    lines += ["", "## Final diff", "", "```diff", diff.rstrip("\n") or "(no change)", "```", ""]
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
    js.write_text(json.dumps(data, indent=2, default=str) + "\n", "utf-8")
    return md, js
