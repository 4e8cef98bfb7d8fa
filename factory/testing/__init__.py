"""`factory test`: scripted conversations against an agent, in-process or over the real SSE protocol.

The results are data (`factory.testing.records`): the CLI prints them, writes them as JSON and
JUnit XML, the pytest plugin turns them into test items, and the fix loop reads the failure records.

Names are imported lazily, so that pytest loading `factory.testing.pytest_plugin` (an entry point
active in every pytest run) costs nothing until a spec file is collected.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from factory.testing.records import (
        ConversationResult,
        Coverage,
        EdgeCoverage,
        ExpectationResult,
        FailureRecord,
        Message,
        RunReport,
        SpecPosition,
        TestCaseResult,
        ToolCall,
        Totals,
        TurnResult,
    )
    from factory.testing.runner import Selection, run_conversation, run_tests, select_tests
    from factory.testing.session import arun_spec, run_spec

__all__ = [
    "ConversationResult",
    "Coverage",
    "EdgeCoverage",
    "ExpectationResult",
    "FailureRecord",
    "Message",
    "RunReport",
    "Selection",
    "SpecPosition",
    "TestCaseResult",
    "ToolCall",
    "Totals",
    "TurnResult",
    "arun_spec",
    "run_conversation",
    "run_spec",
    "run_tests",
    "select_tests",
]

_HOME = {name: "factory.testing.records" for name in __all__[:13] if name != "Selection"}
_HOME.update({"Selection": "factory.testing.runner", "run_conversation": "factory.testing.runner",
              "run_tests": "factory.testing.runner", "select_tests": "factory.testing.runner",
              "arun_spec": "factory.testing.session", "run_spec": "factory.testing.session"})


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'factory.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
