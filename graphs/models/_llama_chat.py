"""The chat format the local llama.cpp server speaks: ChatML, never HTML-escaped, with tool calls.

llama-cpp-python's own `chatml-function-calling` renders the prompt through Jinja with HTML
autoescape (the model reads `I'm` as `I&#39;m` and copies it), drops `tool` messages (the model
never sees a tool's result), ignores `max_tokens` and constrains a plain answer with a grammar that
leaves it empty. This handler renders ChatML by plain string joining and:

- without tools (or `tool_choice: none`): streams the answer; `response_format` with a schema
  constrains it by grammar;
- with a forced tool (`tool_choice: {function: {name}}`, or `required`): the arguments are generated
  under the grammar of the tool's JSON Schema, so they always parse and fit the schema;
- with `tool_choice: auto`: a 135M model cannot tell when a tool is due (asked "should you call a
  tool now? yes or no" under a grammar, it said yes to every case tried, "what is the capital of
  France?" included; left free, it never opened a call). So the format decides from the
  conversation: right after a user message the answer is one tool call (which tool and its
  arguments generated under the grammar of the offered tools), after a tool's result it is text.
  An agent node therefore calls one tool per user message, then answers.

Only the server process imports this module (it needs `llama_cpp`).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from llama_cpp import llama_chat_format, llama_grammar

__all__ = ["CHAT_FORMAT", "chat_handler", "register", "render_chatml"]

CHAT_FORMAT = "factory-chatml"
_CALL_OPEN = "<tool_call>"
_END = "<|im_end|>"
_SAMPLING = ("temperature", "top_p", "top_k", "min_p", "typical_p", "presence_penalty", "frequency_penalty",
             "repeat_penalty", "tfs_z", "mirostat_mode", "mirostat_tau", "mirostat_eta", "seed",
             "logits_processor", "logit_bias")


def _text(content: Any) -> str:
    """A message's content as text (OpenAI content may be a list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def _tools_prompt(tools: list[dict[str, Any]], forced: str | None) -> str:
    listed = json.dumps([{"name": t["function"]["name"], "description": t["function"].get("description", ""),
                          "parameters": t["function"].get("parameters", {})} for t in tools], ensure_ascii=False)
    how = (f"Call the tool {forced} now." if forced else
           "To call a tool, answer with exactly:\n<tool_call>\n{\"name\": \"TOOL\", \"arguments\": {...}}\n"
           "</tool_call>\nOtherwise answer the user in plain text.")
    return f"\n\nYou can call these tools:\n<tools>\n{listed}\n</tools>\n{how}"


def render_chatml(messages: list[dict[str, Any]], *, tools_text: str = "") -> str:
    """ChatML by plain joining: what the model reads is exactly what the client sent.

    Tool calls and their results go into the system message as notes ("You called X with ...; it
    answered ..."): left in the conversation, a 135M model copies them out as its reply.
    """
    notes = _tool_notes(messages)
    parts: list[str] = []
    system_seen = False
    for message in messages:
        role, text = message.get("role", "user"), _text(message.get("content"))
        if role in ("tool", "function") or (role == "assistant" and message.get("tool_calls") and not text):
            continue
        if role == "system" and not system_seen:
            text, system_seen = text + tools_text + notes, True
        parts.append(f"<|im_start|>{role}\n{text}{_END}\n")
    if (tools_text or notes) and not system_seen:
        parts.insert(0, f"<|im_start|>system\n{(tools_text + notes).strip()}{_END}\n")
    parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def _tool_notes(messages: list[dict[str, Any]]) -> str:
    calls: dict[str, str] = {}
    notes: list[str] = []
    for message in messages:
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            calls[str(call.get("id"))] = f"{function.get('name')} with {function.get('arguments')}"
        if message.get("role") in ("tool", "function"):
            called = calls.get(str(message.get("tool_call_id")), str(message.get("name") or "a tool"))
            notes.append(f"You called {called}; it answered: {_text(message.get('content'))}")
    if not notes:
        return ""
    return "\n\n" + "\n".join(notes) + "\nTell the user the outcome in one short sentence."


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _call_schema(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """`{"name": ..., "arguments": ...}` for any of the offered tools, as one JSON Schema."""
    options = [{"type": "object", "properties": {
        "name": {"const": t["function"]["name"]},
        "arguments": t["function"].get("parameters") or {"type": "object"}},
        "required": ["name", "arguments"]} for t in tools]
    return options[0] if len(options) == 1 else {"oneOf": options}


MAX_STRING, MAX_ITEMS, CALL_TOKENS = 200, 8, 512
"""Bounds the grammar gives strings and arrays that have none, so a call's JSON closes in time: a tool
call may use `CALL_TOKENS` whatever the request's `max_tokens` (a reply's budget would cut the JSON
short); a call still cut there reaches the client as arguments that do not parse."""


def _bounded(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_bounded(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _bounded(value) for key, value in schema.items()}
    if out.get("type") == "string" and "enum" not in out and "maxLength" not in out:
        out["maxLength"] = MAX_STRING
    if out.get("type") == "array" and "maxItems" not in out:
        out["maxItems"] = MAX_ITEMS
    return out


def _grammar(schema: dict[str, Any], verbose: bool) -> Any:
    try:
        return llama_grammar.LlamaGrammar.from_json_schema(json.dumps(_bounded(schema)), verbose=verbose)
    except Exception:  # a schema llama.cpp's converter does not handle: any JSON at all
        return llama_grammar.LlamaGrammar.from_string(llama_grammar.JSON_GBNF, verbose=verbose)


def _call_options(base: dict[str, Any]) -> dict[str, Any]:
    return {**base, "stop": [_END], "max_tokens": max(base["max_tokens"] or 0, CALL_TOKENS)}


def _forced_name(tool_choice: Any, tools: list[dict[str, Any]]) -> str | None:
    if isinstance(tool_choice, dict):
        return str(tool_choice["function"]["name"])
    if tool_choice == "required":
        return str(tools[0]["function"]["name"])
    return None


def chat_handler(llama: Any, messages: list[dict[str, Any]], functions: Any = None, function_call: Any = None,
                 tools: list[dict[str, Any]] | None = None, tool_choice: Any = None, stream: bool = False,
                 stop: str | list[str] | None = None, response_format: Any = None, max_tokens: int | None = None,
                 grammar: Any = None, **kwargs: Any) -> Any:
    """A llama-cpp-python chat completion handler (see the module docstring)."""
    if functions and not tools:
        tools = [{"type": "function", "function": f} for f in functions]
    if function_call is not None and tool_choice is None:
        tool_choice = function_call if isinstance(function_call, str) else {"function": function_call}
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    sampling = {k: kwargs[k] for k in _SAMPLING if kwargs.get(k) is not None}
    base = {"stop": [*stops, _END], "max_tokens": max_tokens if max_tokens and max_tokens > 0 else None,
            **sampling}
    tools = tools or []
    if not tools or tool_choice == "none":
        if grammar is None and response_format:
            grammar = llama_chat_format._grammar_for_response_format(response_format, verbose=llama.verbose)
        out = llama.create_completion(prompt=render_chatml(messages), stream=stream, grammar=grammar, **base)
        return llama_chat_format._convert_completion_to_chat(out, stream=stream)
    forced = _forced_name(tool_choice, tools)
    if forced is not None:
        chosen = [t for t in tools if t["function"]["name"] == forced]
        if not chosen:
            raise ValueError(f"tool_choice names {forced!r}, which is not among the tools")
        prompt = render_chatml(messages, tools_text=_tools_prompt(chosen, forced))
        prompt += f"{_CALL_OPEN}\n{{\"name\": {json.dumps(forced)}, \"arguments\": "
        schema = chosen[0]["function"].get("parameters") or {"type": "object"}
        out = llama.create_completion(prompt=prompt, stream=stream, grammar=_grammar(schema, llama.verbose),
                                      **_call_options(base))
        return _tool_call(forced, out, stream)
    return _auto(llama, messages, tools, base, stream)


def _tool_due(messages: list[dict[str, Any]]) -> bool:
    """True when no tool result has come since the last user message (see the module docstring)."""
    for message in reversed(messages):
        if message.get("role") in ("tool", "function"):
            return False
        if message.get("role") == "user":
            return True
    return False


def _auto(llama: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]], base: dict[str, Any],
          stream: bool) -> Any:
    """One tool call right after a user message, else a text answer (see the module docstring)."""
    if not _tool_due(messages):
        prompt = render_chatml(messages)
        out = llama.create_completion(prompt=prompt, stream=stream, **base)
        return llama_chat_format._convert_completion_to_chat(out, stream=stream)
    prompt = render_chatml(messages, tools_text=_tools_prompt(tools, None)) + f"{_CALL_OPEN}\n"
    out = llama.create_completion(prompt=prompt, stream=False, grammar=_grammar(_call_schema(tools), llama.verbose),
                                  **_call_options(base))
    text = out["choices"][0]["text"]
    try:
        call = json.loads(text)
        name, arguments = str(call["name"]), json.dumps(call["arguments"], ensure_ascii=False)
    except (ValueError, KeyError, TypeError):  # cut by max_tokens: the client sees arguments that do not parse
        found = re.search(r'"name":\s*"([^"]*)"', text)
        name = found.group(1) if found else tools[0]["function"]["name"]
        arguments = text.partition('"arguments":')[2].strip() or text
    return _tool_call_done(name, arguments, stream, out.get("usage"))


def _envelope(obj: str) -> dict[str, Any]:
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:16]}", "object": obj, "created": int(time.time()),
            "model": "local"}


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _tool_call(name: str, out: Any, stream: bool) -> Any:
    if not stream:
        return _tool_call_done(name, out["choices"][0]["text"], False, out.get("usage"))
    return _stream_call(name, (c["choices"][0]["text"] for c in out))


def _tool_call_done(name: str, arguments: str, stream: bool, usage: dict[str, int] | None = None) -> Any:
    if stream:
        return _stream_call(name, iter([arguments]))
    call = {"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function",
            "function": {"name": name, "arguments": arguments}}
    return {**_envelope("chat.completion"), "choices": [{
        "index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [call]}, "logprobs": None,
        "finish_reason": "tool_calls"}], "usage": usage or _usage(0, 0)}


def _stream_call(name: str, pieces: Iterator[str]) -> Iterator[dict[str, Any]]:
    """A tool call as OpenAI streams it: the name first, then the arguments piece by piece."""
    head = _envelope("chat.completion.chunk")

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": None})
    yield chunk({"tool_calls": [{"index": 0, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "function",
                                 "function": {"name": name, "arguments": ""}}]})
    for piece in pieces:
        if piece:
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    yield chunk({}, "tool_calls")


def register() -> None:
    """Make `--chat_format factory-chatml` known in this process (idempotent)."""
    registry = llama_chat_format.LlamaChatCompletionHandlerRegistry()
    registry.register_chat_completion_handler(CHAT_FORMAT, chat_handler, overwrite=True)  # type: ignore[arg-type]
