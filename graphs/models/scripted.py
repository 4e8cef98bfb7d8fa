"""The scripted model: deterministic, offline, in-process; streams token by token.

Replies come from the running thread's test `script` (by node path, in order; see
`graphs.fixtures.node_path`). When the script does not cover a call, a deterministic fallback keeps
the turn going (a turn on the scripted model never fails for want of a script):

- a forced tool call (`extract`, `classify`, a model judge): the smallest arguments that fit the
  tool's schema, each required field its first `enum` value, else `""`, `0`, `false`, `[]` or `{}`;
  so `extract` records no slots and `classify` picks its first label;
- a text answer (`reply`, `agent`): no tool call, and the text
  `[scripted model: no script for node 'NODE'] You said: ...`, which names the node to script.
It speaks LangChain's chat-model interface, so nodes use it exactly as they use `ChatOpenAI`:
text streams as chunks, tool calls stream as tool-call chunks, a forced tool gives structured output.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.config import get_config

from graphs import fixtures

__all__ = ["ScriptedChatModel", "fallback_arguments", "split_tokens"]

_TOKEN = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    """Word-sized pieces that join back to `text` exactly."""
    return _TOKEN.findall(text) or [text]


class ScriptedChatModel(BaseChatModel):
    """A chat model whose answers are written in the test, not sampled."""

    token_delay_s: float = 0.0
    """Pause between streamed tokens, to make streaming visible in demos and tests."""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any) -> Any:
        specs = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=specs, tool_choice=tool_choice, **kwargs)

    # ------------------------------------------------------------ the reply

    def _entry(self) -> tuple[str, bool, Any]:
        try:
            config = get_config()
        except RuntimeError:
            return "?", False, None
        node = fixtures.node_path(config)
        found = fixtures.from_config(config)
        if found is None:
            return node, False, None
        has, entry = found.next_reply(node)
        return node, has, entry

    def _message(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        node, has, entry = self._entry()
        forced = kwargs.get("tool_choice")
        tool_names = [t["function"]["name"] for t in kwargs.get("tools") or []]
        if forced and forced not in ("auto", "none"):
            name = forced if forced in tool_names else (tool_names[0] if tool_names else str(forced))
            if not has:
                tool = next((t for t in kwargs.get("tools") or [] if t["function"]["name"] == name), None)
                args: Any = fallback_arguments(tool["function"].get("parameters") if tool else None)
            elif isinstance(entry, dict):
                args = entry
            else:
                args = {"label": entry}
            call = {"name": name, "args": args, "id": _call_id(), "type": "tool_call"}
            return AIMessage(content="", tool_calls=[call])
        if has and isinstance(entry, dict) and "tool_calls" in entry:
            calls = [{"name": c["name"], "args": c.get("args", {}), "id": _call_id(), "type": "tool_call"}
                     for c in entry["tool_calls"]]
            return AIMessage(content="", tool_calls=calls)
        if has:
            return AIMessage(content=str(entry))
        last_user = next((m.text for m in reversed(messages) if isinstance(m, HumanMessage)), "")
        return AIMessage(content=f"[scripted model: no script for node {node!r}] You said: {last_user}")

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._message(messages, kwargs))])

    def _chunks(self, message: AIMessage) -> Iterator[AIMessageChunk]:
        for index, call in enumerate(message.tool_calls):
            yield AIMessageChunk(content="", tool_call_chunks=[
                {"name": call["name"], "args": json.dumps(call["args"]), "id": call["id"], "index": index,
                 "type": "tool_call_chunk"}])
        if message.text or not message.tool_calls:
            for token in split_tokens(message.text):
                yield AIMessageChunk(content=token)

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks(self._message(messages, kwargs)):
            if run_manager and chunk.text:
                run_manager.on_llm_new_token(chunk.text)
            yield ChatGenerationChunk(message=chunk)

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks(self._message(messages, kwargs)):
            if self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
            if run_manager and chunk.text:
                await run_manager.on_llm_new_token(chunk.text)
            yield ChatGenerationChunk(message=chunk)


_EMPTY: dict[str, Any] = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}


def fallback_arguments(schema: dict[str, Any] | None) -> dict[str, Any]:
    """The smallest arguments that fit an object schema: each required field its first `enum` value,
    else the empty value of its type (optional fields are left out)."""
    properties = (schema or {}).get("properties") or {}
    args: dict[str, Any] = {}
    for name in (schema or {}).get("required") or []:
        field_schema = properties.get(name) or {}
        if field_schema.get("enum"):
            args[name] = field_schema["enum"][0]
        else:
            kind = field_schema.get("type")
            args[name] = _EMPTY.get(kind if isinstance(kind, str) else "string", "")
    return args


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:12]}"
