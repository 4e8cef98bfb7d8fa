"""`factory fix SPEC`: the autonomous test-fix loop (see factory/fix/loop.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Literal

import typer
from pydantic import ValidationError

from factory.cli._common import ModelOption, SpecArg
from factory.cli._output import err_console, out_console
from factory.errors import ExitCode, UserError
from factory.fix.holdout import Holdout
from factory.language.models import HoldoutShare

Runner = Literal["auto", "docker", "local", "inprocess"]


def _patcher(spec: Path, patcher_model: str | None) -> object:
    from factory.cli._common import load_plan
    from factory.fix.patcher import Patcher
    from graphs.models import ModelConfigError, make_chat_model

    loaded, plan = load_plan(spec)
    alias = loaded.spec.fix.model or loaded.spec.default_model or next(iter(plan["models"]), None)
    if alias is None:
        raise UserError("the spec has no model for the patcher", hint="set `fix.model` to a models alias")
    settings = plan["models"][alias]
    if (patcher_model or settings["provider"]) == "scripted":
        raise UserError(f"the patcher model {alias!r} is the offline scripted model, which cannot write patches",
                        hint="point it at an OpenAI-compatible server; offline: `factory mock-llm --script FILE` "
                             "and OPENAI_BASE_URL")
    try:
        return Patcher(make_chat_model(settings, override=patcher_model))
    except ModelConfigError as exc:
        raise UserError(str(exc), hint="set the patcher model's API key variable, or OPENAI_BASE_URL") from None


def fix(
    spec: SpecArg,
    runner: Annotated[Runner, typer.Option("--runner", help="Where the agent runs while it is tested.")] = "auto",
    max_iterations: Annotated[
        int | None, typer.Option("--max-iterations", min=1, help="Override fix.max_iterations.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Leave the spec untouched; write the patch to a file.")] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the report to REPORT.md and REPORT.json.")] = None,
    model: ModelOption = None,
    patcher_model: Annotated[
        str | None, typer.Option("--patcher-model", help="Override the patcher: `openai:MODEL`.")] = None,
    holdout: Annotated[
        list[str] | None, typer.Option(
            "--holdout", help="Override fix.holdout: a conversation name or tag (repeatable), or a share "
                              "with an optional seed, `0.3` or `0.3:7`.")] = None,
) -> None:
    """Run the conversations; while some fail, let the patcher model repair the spec (exit 0 green, 1 not)."""
    from factory.cli.schema import spec_json_schema
    from factory.fix.loop import FixOutcome, fix_spec
    from factory.fix.report import final_diff, write_reports
    from factory.testing.records import RunReport
    from factory.testing.session import arun_spec

    target = runner
    if runner == "auto":
        from factory.runners import resolve_kind

        target = resolve_kind("auto", console=err_console)
    patcher = _patcher(spec, patcher_model)
    held = _holdout(holdout)

    async def run_tests(path: Path) -> RunReport:
        return await arun_spec(path, target=target, model=model)

    base = report or spec.with_name(f"{spec.stem}.fix-report")
    written: list[Path] = []

    def on_done(outcome: FixOutcome) -> None:
        written.extend(write_reports(outcome, base))
        if dry_run and outcome.final_text != outcome.original_text:
            patch_file = base.with_name(f"{base.name}.patch")
            patch_file.write_text(final_diff(outcome), "utf-8")
            out_console.print(f"patch written to {patch_file} (spec untouched)")

    try:
        outcome = asyncio.run(fix_spec(spec, patcher=patcher, run_tests=run_tests,  # type: ignore[arg-type]
                                       schema=spec_json_schema(), max_iterations=max_iterations, dry_run=dry_run,
                                       holdout=held, on_progress=lambda line: err_console.print(f"[dim]fix[/] {line}"),
                                       on_done=on_done))
    finally:
        if written:
            err_console.print(f"[dim]report: {written[0]} and {written[1]}[/]")
    md, js = written
    verdict = "[green]green[/]" if outcome.green else "[red]still failing[/]"
    out_console.print(f"{verdict}: {outcome.passed_before}/{outcome.total} -> {outcome.passed_after}/{outcome.total} "
                      f"conversations pass; {len(outcome.attempts)} patch(es) tried, {outcome.llm_calls} LLM call(s); "
                      f"stopped: {outcome.stop}; report: {md} and {js}")
    raise typer.Exit(ExitCode.OK if outcome.green else ExitCode.TESTS_FAILED)


def _holdout(values: list[str] | None) -> Holdout | None:
    """`--holdout` as `fix.holdout` takes it: one number (`0.3`, `0.3:7`) is a seeded share, else names or tags."""
    if not values:
        return None
    share, _, seed = values[0].partition(":")
    try:
        number = float(share)
    except ValueError:
        return list(values)
    if len(values) > 1:
        raise UserError(f"--holdout takes names and tags, or one share; got {values!r}",
                        hint="give `--holdout 0.3` alone, or names: `--holdout greets --holdout budget`")
    try:
        return HoldoutShare(share=number, seed=int(seed or 0))
    except (ValueError, ValidationError):
        raise UserError(f"--holdout {values[0]!r}: a share is a number between 0 and 1, then an optional "
                        "`:seed` (an integer)", hint="for example `--holdout 0.3` or `--holdout 0.3:7`") from None


def register(app: typer.Typer) -> None:
    app.command()(fix)
