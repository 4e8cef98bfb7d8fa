"""mock-llm at the wire: the real openai SDK and ChatOpenAI against the real HTTP server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import AIMessageChunk
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from factory.mockllm import MockLLMServer, ScriptError, load_script, mock_llm_command
from factory.mockllm._wire import split_tokens


def user(text: str) -> Any:
    """A one-message conversation (typed Any: the SDK's TypedDict params are not the point here)."""
    return [{"role": "user", "content": text}]


USER = user("hi")


@pytest.fixture
def srv() -> Iterator[MockLLMServer]:
    with MockLLMServer() as server:
        yield server


def sdk(srv: MockLLMServer, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key="test", **{"max_retries": 0, **kw})


def create(client: openai.OpenAI, **kw: Any) -> Any:
    """`chat.completions.create`, untyped so tests can pass plain dicts and read either result kind."""
    return client.chat.completions.create(**{"model": "mock", "messages": USER, **kw})


def chat_model(srv: MockLLMServer, **kw: Any) -> ChatOpenAI:
    return ChatOpenAI(base_url=srv.base_url, api_key=SecretStr("test"), model="mock", max_retries=0, **kw)


def crm_lookup(company: str) -> dict[str, str]:
    """Look up a company in the CRM."""
    return {"tier": "enterprise"}


async def _astream(model: Any, prompt: str) -> list[AIMessageChunk]:
    return [chunk async for chunk in model.astream(prompt)]


def _aggregate(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


# ------------------------------------------------------------------ streaming text


def test_streamed_text_arrives_in_several_chunks_that_join_to_the_script(srv: MockLLMServer) -> None:
    text = "Hello Ana, what budget have you set aside?\n"
    srv.set_script({"rules": [{"text": text}]})
    stream = create(sdk(srv), stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) == len(split_tokens(text)) > 3
    assert "".join(pieces) == text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(pieces)
    (record,) = srv.requests
    assert record.stream and record.outcome == "completed" and record.body["messages"] == USER


def test_langchain_streams_text_token_by_token(srv: MockLLMServer) -> None:
    srv.set_script({"rules": [{"text": "One two three four."}]})
    chunks = asyncio.run(_astream(chat_model(srv), "count"))
    texts = [c.content for c in chunks if c.content]
    assert texts == ["One", " two", " three", " four."]


def test_split_tokens_round_trips_and_tokens_pads_to_exact_count(srv: MockLLMServer) -> None:
    for text in ["", "  lead and trail  ", "a\n\nb\tc", "ünïcode wörds"]:
        assert "".join(split_tokens(text)) == text
    srv.set_script({"rules": [{"text": "lorem ipsum", "tokens": 7}]})
    stream = create(sdk(srv), stream=True)
    pieces = [c.choices[0].delta.content for c in stream if c.choices[0].delta.content]
    assert "".join(pieces) == "lorem ipsum lorem ipsum lorem ipsum lorem"
    assert len(pieces) == 7


# ------------------------------------------------------------------ tool calls


def test_langchain_aggregates_streamed_tool_calls_with_parsed_args(srv: MockLLMServer) -> None:
    srv.set_script({"rules": [{
        "when": {"tool_name": "crm_lookup"},
        "tool_calls": [
            {"name": "crm_lookup", "arguments": {"company": "Acme Inc", "fields": ["tier", "seats"]}},
            {"name": "crm_lookup", "arguments": {"company": "Globex"}, "id": "call_fixed"},
        ],
    }]})
    model = chat_model(srv).bind_tools([crm_lookup])
    chunks = asyncio.run(_astream(model, "look up Acme and Globex"))
    assert len(chunks) > 4  # arguments really arrived in fragments
    message = _aggregate(chunks)
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("crm_lookup", {"company": "Acme Inc", "fields": ["tier", "seats"]}),
        ("crm_lookup", {"company": "Globex"}),
    ]
    assert message.tool_calls[0]["id"] == "call_1_0" and message.tool_calls[1]["id"] == "call_fixed"
    assert message.response_metadata.get("finish_reason") == "tool_calls"
    assert srv.requests[0].body["tools"][0]["function"]["name"] == "crm_lookup"


def test_non_streaming_text_and_tool_calls(srv: MockLLMServer) -> None:
    srv.set_script({"rules": [
        {"when": {"last_user_regex": "patch"}, "tool_calls": [
            {"name": "apply_spec_patch", "arguments": {"operations": [], "rationale": "none needed"}}]},
        {"text": "Plain answer."},
    ]})
    client = sdk(srv)
    text = create(client)
    assert text.choices[0].message.content == "Plain answer."
    assert text.choices[0].finish_reason == "stop" and text.usage is not None and text.usage.total_tokens > 0
    call = create(client, messages=user("patch it"))
    assert call.choices[0].finish_reason == "tool_calls"
    (tc,) = call.choices[0].message.tool_calls or []
    assert tc.function.name == "apply_spec_patch"
    assert json.loads(tc.function.arguments) == {"operations": [], "rationale": "none needed"}
    message = chat_model(srv).invoke("patch it")
    assert message.tool_calls[0]["args"] == {"operations": [], "rationale": "none needed"}


# ------------------------------------------------------------------ faults


def test_status_failures_raise_the_sdk_error_types(srv: MockLLMServer) -> None:
    srv.set_script({"rules": [
        {"when": {"last_user_regex": "boom"}, "fail": {"status": 500, "message": "kaboom"}},
        {"fail": {"status": 429, "message": "slow down", "retry_after_s": 3}},
    ]})
    client = sdk(srv)
    with pytest.raises(openai.InternalServerError, match="kaboom"):
        create(client, messages=user("boom"))
    with pytest.raises(openai.RateLimitError) as info:
        create(client, stream=True)
    assert info.value.response.headers["retry-after"] == "3"
    assert info.value.body == {"message": "slow down", "type": "rate_limit_error", "param": None,
                               "code": None}
    assert [e.kind for e in srv.events] == ["failed", "failed"]


def test_a_429_once_then_success_is_retried_by_the_sdk(srv: MockLLMServer) -> None:
    srv.set_script({"rules": [
        {"times": 1, "fail": {"status": 429, "retry_after_s": 0.01}},
        {"text": "after retry"},
    ]})
    reply = create(sdk(srv, max_retries=1))
    assert reply.choices[0].message.content == "after retry"
    assert [r.status for r in srv.requests] == [429, 200]


def test_cut_after_tokens_makes_the_client_fail(srv: MockLLMServer) -> None:
    srv.set_script({"rules": [{"text": "one two three four five", "fail": {"cut_after_tokens": 2}}]})
    client = sdk(srv)
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in create(client, stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert received == ["one", " two"]
    with pytest.raises(openai.APIConnectionError):
        create(client)
    assert [e.kind for e in srv.events] == ["cut", "cut"]
    assert srv.requests[0].tokens_sent == 2


def test_langchain_sees_the_cut_as_an_error(srv: MockLLMServer) -> None:
    srv.set_script({"rules": [{"text": "one two three", "fail": {"cut_after_tokens": 1}}]})
    with pytest.raises(openai.APIConnectionError):
        asyncio.run(_astream(chat_model(srv), "hi"))


def test_first_token_delay_is_observed(srv: MockLLMServer) -> None:
    srv.set_script({"rules": [{"text": "late start", "first_token_delay_ms": 200}]})
    started = time.perf_counter()
    stream = create(sdk(srv), stream=True)
    first = next(iter(stream))
    assert time.perf_counter() - started >= 0.2
    assert first.choices[0].delta.content == "late"
    stream.close()


def test_client_disconnect_mid_stream_is_recorded(srv: MockLLMServer) -> None:
    srv.set_script({"rules": [{"text": "word " * 200, "token_delay_ms": 20}]})
    stream = create(sdk(srv), stream=True)
    iterator = iter(stream)
    next(iterator), next(iterator)
    stream.close()
    event = srv.wait_for_event("disconnected")
    (record,) = srv.requests
    assert event.request_id == record.id and record.disconnected
    assert 2 <= record.tokens_sent < 200
    listed = httpx.get(f"{srv.url}/_mock/requests").json()
    assert listed["requests"][0]["disconnected"] is True
    assert listed["events"][0]["kind"] == "disconnected"


def test_hang_times_out_the_client_and_records_the_disconnect(srv: MockLLMServer) -> None:
    srv.set_script({"rules": [{"fail": {"hang": True}}]})
    with pytest.raises(openai.APITimeoutError):
        create(sdk(srv, timeout=0.3), stream=True)
    assert srv.wait_for_event("disconnected").request_id == srv.requests[0].id
    assert [e.kind for e in srv.events] == ["hang", "disconnected"]


def test_stop_releases_a_hung_request_promptly() -> None:
    server = MockLLMServer({"rules": [{"fail": {"hang": True}}]}).start()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            create(openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=30))
        except openai.APIError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    server.wait_for_event("hang")
    server.stop()
    caller.join(5)
    assert not caller.is_alive() and len(errors) == 1
    assert server.requests[0].outcome == "stopped"


# ------------------------------------------------------------------ choosing replies


def test_queue_serves_replies_in_order_then_the_default(srv: MockLLMServer) -> None:
    srv.set_script({"queue": [{"text": "first"}, {"tool_calls": [{"name": "t", "arguments": {"n": 2}}]}],
                    "rules": [{"when": {"last_user_regex": "never"}, "text": "rule"}],
                    "default": {"text": "fallback"}})
    client = sdk(srv)
    first = create(client, messages=user("never"))
    second = create(client)
    third = create(client)
    assert first.choices[0].message.content == "first"
    assert (second.choices[0].message.tool_calls or [])[0].function.arguments == '{"n": 2}'
    assert third.choices[0].message.content == "fallback"
    assert [r.rule for r in srv.requests] == ["queue[0]", "queue[1]", "default"]
    srv.reset()
    assert srv.requests == []
    again = create(client)
    assert again.choices[0].message.content == "first"


def test_first_matching_rule_wins_and_times_is_honoured(srv: MockLLMServer) -> None:
    srv.set_script({"rules": [
        {"name": "once", "times": 1, "when": {"last_user_regex": "(?i)budget"}, "text": "budget-once"},
        {"name": "budget", "when": {"last_user_regex": "(?i)budget"}, "text": "budget-again"},
        {"name": "sys", "when": {"system_regex": "sales"}, "text": "sales"},
        {"name": "forced", "when": {"tool_name": "classify"}, "text": "forced"},
        {"name": "model", "when": {"model": "big", "any_message_regex": "x+"}, "text": "big model"},
    ]})

    def ask(messages: Any, **kw: Any) -> str | None:
        return create(sdk(srv), messages=messages, **kw).choices[0].message.content

    budget = [{"role": "system", "content": "sales agent"}, {"role": "user", "content": "My BUDGET?"}]
    assert ask(budget) == "budget-once"
    assert ask(budget) == "budget-again"
    assert ask([budget[0], *user("hello")]) == "sales"
    forced = {"type": "function", "function": {"name": "classify"}}
    tool = {"type": "function", "function": {"name": "classify", "parameters": {"type": "object"}}}
    assert ask(USER, tools=[tool], tool_choice=forced) == "forced"
    parts = [{"role": "user", "content": [{"type": "text", "text": "xxx"}]}]
    assert ask(parts, model="big") == "big model"
    assert ask(parts, model="small") == "mock-llm: no rule matched"
    assert [r.rule for r in srv.requests] == ["once", "budget", "sys", "forced", "model", "default"]


# ------------------------------------------------------------------ input validation


def test_malformed_requests_get_openai_style_400s(srv: MockLLMServer) -> None:
    url = f"{srv.base_url}/chat/completions"
    bad_json = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["type"] == "invalid_request_error"
    no_messages = httpx.post(url, json={"model": "mock"})
    assert no_messages.status_code == 400 and "messages" in no_messages.json()["error"]["message"]
    with pytest.raises(openai.BadRequestError):
        create(sdk(srv), messages=[])
    assert [r.outcome for r in srv.requests] == ["error", "error", "error"]
    assert srv.requests[0].body == "{not json"


def test_models_listing_and_live_script_endpoint(srv: MockLLMServer) -> None:
    assert [m.id for m in sdk(srv).models.list()] == ["mock"]
    ok = httpx.post(f"{srv.url}/_mock/script", json={"models": ["a", "b"], "rules": [{"text": "new"}]})
    assert ok.status_code == 200
    assert [m.id for m in sdk(srv).models.list()] == ["a", "b"]
    bad = httpx.post(f"{srv.url}/_mock/script", json={"rules": [{"txt": "typo"}]})
    assert bad.status_code == 400 and "rules[0].txt" in bad.json()["error"]["message"]
    assert httpx.post(f"{srv.url}/_mock/script", json="/etc/passwd").status_code == 400
    assert httpx.post(f"{srv.url}/_mock/reset").json() == {"ok": True}


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("typo.yaml", "rules:\n  - txt: hello\n", "rules[0].txt: Extra inputs are not permitted"),
        ("regex.yaml", "rules:\n  - when: {last_user_regex: '('}\n    text: x\n", "invalid regex '('"),
        ("two.yaml", "rules:\n  - fail: {status: 500, hang: true}\n", "exactly one of"),
        ("empty-reply.yaml", "rules:\n  - when: {model: m}\n", "needs `text`, `tool_calls`"),
        ("syntax.yaml", "rules: [\n", "invalid YAML"),
        ("bad.json", '{"rules": [}', "invalid JSON at line 1"),
        ("scalar.yaml", "just text\n", "must be a mapping"),
        ("status.yaml", "default: {fail: {status: 200}}\n", "default.fail.status"),
    ],
)
def test_bad_script_files_name_the_file_and_the_problem(tmp_path: Path, name: str, content: str,
                                                        problem: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ScriptError) as info:
        load_script(path)
    assert str(path) in str(info.value) and problem in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_file_and_good_yaml_example(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="nope.yaml: cannot read mock-llm script"):
        load_script(tmp_path / "nope.yaml")
    example = tmp_path / "script.yaml"
    example.write_text(EXAMPLE_YAML)
    script = load_script(example)
    assert len(script.rules) == 3 and script.default.text == "Sorry, I only talk about budgets."
    calls = script.rules[1].tool_calls
    assert calls is not None and calls[0].arguments == {"company": "Acme"}
    assert load_script([{"text": "bare list"}]).rules[0].text == "bare list"


def test_cli_rejects_a_bad_script_with_exit_code_2(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("rules: 3\n")
    with pytest.raises(SystemExit) as info:
        mock_llm_command(path, "127.0.0.1", 0)
    assert info.value.code == 2
    assert f"{path}: invalid mock-llm script" in capsys.readouterr().err


def test_cli_serves_the_script_over_http(tmp_path: Path) -> None:
    path = tmp_path / "script.yaml"
    path.write_text(EXAMPLE_YAML)
    code = f"from factory.mockllm import mock_llm_command; mock_llm_command({str(path)!r}, '127.0.0.1', 0)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        base_url = banner.split("serving ")[1].split(" ")[0]
        client = openai.OpenAI(base_url=base_url, api_key="test", max_retries=3)
        reply = create(client, messages=user("budget?"))
        assert reply.choices[0].message.content == "About 20k."
    finally:
        proc.terminate()
        proc.wait(10)


EXAMPLE_YAML = """\
rules:
  - name: budget
    when: {last_user_regex: "(?i)budget"}
    text: "About 20k."
  - when: {tool_name: crm_lookup}
    times: 1
    tool_calls: [{name: crm_lookup, arguments: {company: Acme}}]
  - when: {system_regex: "slow"}
    text: "Streaming slowly."
    first_token_delay_ms: 300
    token_delay_ms: 40
default:
  text: "Sorry, I only talk about budgets."
"""
