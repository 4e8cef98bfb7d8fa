"""pytest plugin: `pytest specs/` collects every conversation of every spec as a test item.

Registered as the `pytest11` entry point `factory`, so it is loaded by every pytest run; it imports
nothing heavy until a spec is collected. It collects a `*.yaml`/`*.yml` file only when

- the file was named on the command line, or a folder above it was (one that is not inside the
  project's own `testpaths`, so `pytest tests` never collects the YAML fixtures there), and
- the file has a top-level `spec:` and a top-level `tests:`.

So `pytest tests` of this project never collects specs, while `pytest specs/sales_discovery.yaml`
and `pytest specs/` do. Options: `--factory-target` (default `inprocess`) and `--factory-model`
(default: `FACTORY_MODEL`, else `scripted`). Each conversation's tags become pytest markers when
they are valid marker names (`pytest specs/ -m routing`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graphs.plan import Plan

_TOP_SPEC = re.compile(r"^spec\s*:", re.MULTILINE)
_TOP_TESTS = re.compile(r"^tests\s*:", re.MULTILINE)
_MARKER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("factory", "Meta-Agent Factory spec conversations")
    group.addoption("--factory-target", default="inprocess",
                    help="where spec conversations run: inprocess, a server URL, local or docker")
    group.addoption("--factory-model", default=None,
                    help="model override for spec conversations (default: $FACTORY_MODEL, else scripted)")


def _named_on_command_line(config: pytest.Config, file_path: Path) -> bool:
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return False
    root = Path(config.invocation_params.dir)
    resolved = file_path.resolve()
    own_tests = [(config.rootpath / p).resolve() for p in config.getini("testpaths")]
    for arg in config.args:
        named = (root / arg.split("::")[0]).resolve()
        if resolved == named:
            return True
        inside_own_tests = any(named == t or t in named.parents for t in own_tests)
        if named in resolved.parents and not inside_own_tests:
            return True
    return False


def _looks_like_spec(file_path: Path) -> bool:
    try:
        text = file_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(_TOP_SPEC.search(text) and _TOP_TESTS.search(text))


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and _named_on_command_line(parent.config, file_path) \
            and _looks_like_spec(file_path):
        return SpecFile.from_parent(parent, path=file_path)
    return None


class ConversationFailed(Exception):
    """A conversation did not reach its `min_pass_rate`; the message is the readable report."""


class SpecFile(pytest.File):
    """A spec file: one item per conversation."""

    def collect(self) -> Iterator[pytest.Item]:
        from factory.compiler import compile_plan
        from factory.errors import SpecError
        from factory.language.loader import load_spec

        try:
            loaded = load_spec(self.path)
        except SpecError as exc:
            raise self.CollectError(f"invalid spec:\n{exc}") from None
        plan = compile_plan(loaded)
        for index, case in enumerate(loaded.spec.tests):
            item = ConversationItem.from_parent(self, name=case.name, loaded=loaded, plan=plan, index=index)
            for tag in case.tags:
                if _MARKER.match(tag):
                    self.config.addinivalue_line("markers", f"{tag}: a factory test tag")
                    item.add_marker(tag)
            yield item


class ConversationItem(pytest.Item):
    """One conversation of a spec, with all its `repeat` attempts."""

    def __init__(self, *, loaded: Any, plan: Plan, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loaded, self.plan, self.index = loaded, plan, index
        self.case = loaded.spec.tests[index]

    def runtest(self) -> None:
        import asyncio

        from factory.testing.conversation import user_factory
        from factory.testing.runner import run_case
        from factory.testing.session import judge_for
        from factory.testing.targets import effective_model, open_target

        override = effective_model(self.config.getoption("--factory-model"))

        async def go() -> Any:
            async with open_target(self.config.getoption("--factory-target"), loaded=self.loaded,
                                   plan=self.plan, model=override) as target:
                judge = judge_for(self.loaded, self.plan, override)
                return await run_case(self.loaded, self.index, self.case, target=target, judge=judge,
                                      users=user_factory(self.loaded, self.plan, override))

        result = asyncio.run(go())
        self.user_properties.append(("pass_rate", result.pass_rate))
        if not result.passed:
            head = (f"conversation {self.case.name!r}: {result.passed_attempts}/{len(result.attempts)} attempts "
                    f"passed, needs {result.min_pass_rate:.0%}")
            raise ConversationFailed("\n\n".join([head, *(f.render() for f in result.failures)]))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from factory.errors import UserError

        if isinstance(excinfo.value, ConversationFailed | UserError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        line = self.loaded.source.at(("tests", self.index)).line
        return self.path, line - 1, f"conversation: {self.case.name}"
