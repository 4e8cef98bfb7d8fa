"""Fixtures of the graph tests; the helpers live in `_graph_support.py`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from _graph_support import TurnResult, plan_of, run_turns, write_spec

Runner = Callable[..., list[TurnResult]]


@pytest.fixture
def converse(tmp_path: Path) -> Runner:
    """`converse(spec_text, messages, files=..., script=..., mocks=...)` -> one TurnResult per message."""

    def run(spec_text: str, messages: Sequence[str], *, files: dict[str, str] | None = None,
            **options: Any) -> list[TurnResult]:
        path = write_spec(tmp_path / "spec", spec_text, files)
        return asyncio.run(run_turns(plan_of(path), path.parent, messages, **options))

    return run
