"""Test one spec end to end: load, compile, open the target, run, close. What the CLI and the fix loop call."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from factory.testing.records import RunReport
from factory.testing.runner import Progress, Selection, run_tests
from graphs.plan import Plan

if TYPE_CHECKING:
    from factory.client import WireProtocol
    from factory.language.loader import LoadedSpec

__all__ = ["arun_spec", "judge_for", "run_spec"]


async def arun_spec(spec: str | Path | LoadedSpec, *, target: str = "inprocess", model: str | None = None,
                    selection: Selection | None = None, repeat: int | None = None, jobs: int = 1,
                    progress: Progress | None = None, plan: Plan | None = None,
                    protocol: WireProtocol = "auto") -> RunReport:
    """Run the selected conversations of `spec` against `target` (`inprocess`, a URL, `local`, `docker`).

    `model` is the run-wide override; `None` means the offline default (`FACTORY_MODEL`, else
    `scripted`) and `"spec"` the spec's own models. `protocol` says how to talk to a URL (`auto`
    asks the server: a factory server or an Agent Server). Raises `SpecError` for an invalid spec
    and `UserError` for an unusable target.
    """
    from factory.compiler import compile_plan
    from factory.language.loader import LoadedSpec, load_spec
    from factory.testing.targets import effective_model, open_target

    loaded = spec if isinstance(spec, LoadedSpec) else load_spec(spec)
    plan = plan if plan is not None else compile_plan(loaded)
    override = effective_model(model)
    judge = judge_for(loaded, plan, override)
    async with open_target(target, loaded=loaded, plan=plan, model=override, protocol=protocol) as opened:
        return await run_tests(loaded, plan, target=opened, judge=judge, selection=selection, repeat=repeat,
                               jobs=jobs, model=override, progress=progress)


def judge_for(loaded: LoadedSpec, plan: Plan, override: str | None) -> Any:
    """The run's judge; the offline one when no conversation has a `judge` expectation."""
    from factory.errors import UserError
    from factory.testing.judge import ScriptedJudge, make_judge
    from graphs.models import ModelConfigError

    needs_judge = any(e.judge is not None for case in loaded.spec.tests
                      for e in [*(e for turn in case.turns for e in turn.expect), *case.each_turn, *case.at_end])
    if not needs_judge:
        return ScriptedJudge()
    try:
        return make_judge(plan, alias=loaded.spec.default_model, override=override)
    except ModelConfigError as exc:
        raise UserError(f"the judge model cannot be built: {exc}", hint="run offline with `--model scripted`") from None


def run_spec(spec: str | Path | LoadedSpec, **options: Any) -> RunReport:
    """`arun_spec` for synchronous callers."""
    return asyncio.run(arun_spec(spec, **options))
