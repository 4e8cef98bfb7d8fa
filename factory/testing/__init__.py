"""`factory test`: scripted and simulated conversations against an agent, in-process or over the real SSE
protocol; coverage of the spec, a coverage report of its text, and mutation testing.

The results are data (`factory.testing.records`): the CLI prints them, writes them as JSON and
JUnit XML, the pytest plugin turns them into test items, and the fix loop reads the failure records.

Names are imported lazily, so that pytest loading `factory.testing.pytest_plugin` (an entry point
active in every pytest run) costs nothing until a spec file is collected.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from factory.testing.mutation import MutantResult, MutationReport, arun_mutation, run_mutation
    from factory.testing.records import (
        ConditionCoverage,
        ConversationResult,
        Coverage,
        EdgeCoverage,
        ExpectationResult,
        FailureRecord,
        Message,
        RunReport,
        Simulation,
        SpecPosition,
        TestCaseResult,
        ToolCall,
        Totals,
        TurnResult,
    )
    from factory.testing.runner import Selection, run_conversation, run_tests, select_tests
    from factory.testing.session import arun_spec, run_spec

__all__ = [
    "ConditionCoverage",
    "ConversationResult",
    "Coverage",
    "EdgeCoverage",
    "ExpectationResult",
    "FailureRecord",
    "Message",
    "MutantResult",
    "MutationReport",
    "RunReport",
    "Selection",
    "Simulation",
    "SpecPosition",
    "TestCaseResult",
    "ToolCall",
    "Totals",
    "TurnResult",
    "arun_mutation",
    "arun_spec",
    "run_conversation",
    "run_mutation",
    "run_spec",
    "run_tests",
    "select_tests",
]

_RECORDS = ("ConditionCoverage", "ConversationResult", "Coverage", "EdgeCoverage", "ExpectationResult",
            "FailureRecord", "Message", "RunReport", "Simulation", "SpecPosition", "TestCaseResult", "ToolCall",
            "Totals", "TurnResult")
_HOME = {name: "factory.testing.records" for name in _RECORDS}
_HOME.update({"Selection": "factory.testing.runner", "run_conversation": "factory.testing.runner",
              "run_tests": "factory.testing.runner", "select_tests": "factory.testing.runner",
              "arun_spec": "factory.testing.session", "run_spec": "factory.testing.session"})
_HOME.update({name: "factory.testing.mutation" for name in ("MutantResult", "MutationReport", "arun_mutation",
                                                             "run_mutation")})
assert set(_HOME) == set(__all__), "every public name has its home module"


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'factory.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
