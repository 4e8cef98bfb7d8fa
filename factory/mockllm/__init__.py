"""mock-llm: an OpenAI-compatible fake model server, real HTTP, scripted replies and faults.

Our tests use it as the model at the wire (`MockLLMServer`); users run it with `factory mock-llm`.
See `_script.py` for the script format.
"""

from ._app import MockState, create_app
from ._record import MockEvent, RecordedRequest, Recorder
from ._script import Fail, Reply, Rule, Script, ScriptError, ToolCall, When, load_script
from ._server import MockLLMServer
from .cli import mock_llm_command

__all__ = [
    "Fail", "MockEvent", "MockLLMServer", "MockState", "RecordedRequest", "Recorder", "Reply", "Rule",
    "Script", "ScriptError", "ToolCall", "When", "create_app", "load_script", "mock_llm_command",
]
