"""mock-llm: an OpenAI-compatible fake model server, real HTTP, scripted replies and faults.

Our tests use it as the model at the wire (`MockLLMServer`); users run it with `factory mock-llm`.
A real socket is needed because openai 3.x (httpx2) bypasses in-process transport mocks. Script::

    queue:                      # served first, one per request, whatever the request says
      - tool_calls: [{name: apply_spec_patch, arguments: {operations: [], rationale: ok}}]
    rules:                      # then the first matching rule (all `when` conditions must hold)
      - when: {last_user_regex: "(?i)budget", tool_name: crm_lookup}
        times: 1
        tool_calls: [{name: crm_lookup, arguments: {company: Acme}}]
      - when: {system_regex: "sales"}
        text: "What budget have you set aside?"
        first_token_delay_ms: 300
        token_delay_ms: 20
      - when: {model: flaky}
        fail: {status: 429, retry_after_s: 0.1}   # or {cut_after_tokens: 3} or {hang: true}
    default: {text: "mock-llm: no rule matched"}
    context_window: 2000        # optional: longer prompts get OpenAI's 400 context_length_exceeded
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
