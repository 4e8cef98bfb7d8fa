"""Ask the patcher model for one `apply_spec_patch` call, and count every call against the cap."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from factory.fix.patch import PatchProposal, PatchRejected, parse_proposal

__all__ = ["PATCH_TOOL", "Patcher", "PatcherRequest"]

PATCH_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "apply_spec_patch",
        "description": "Propose one RFC 6902 JSON Patch to the agent spec that makes the failing conversations pass.",
        "parameters": {
            "type": "object",
            "properties": {
                "operations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "op": {"type": "string", "enum": ["add", "remove", "replace", "move", "copy", "test"]},
                            "path": {"type": "string", "description": "JSON Pointer into the spec"},
                            "value": {"description": "The new value (add, replace, test)"},
                            "from": {"type": "string"},
                        },
                        "required": ["op", "path"],
                    },
                },
                "rationale": {"type": "string", "description": "Why this patch fixes the failures"},
            },
            "required": ["operations", "rationale"],
        },
    },
}

MAX_FAILURES = 12
"""Failure records sent per request: whole records, never a record cut in the middle."""

_SYSTEM = """You repair YAML specs of LangGraph conversational agents so that their scripted test conversations pass.
Answer ONLY by calling the tool apply_spec_patch with RFC 6902 operations on the spec's JSON form.
You may only touch these JSON Pointer globs (`*` = one segment): {editable}.
Change as little as possible; never touch tests. A patch that breaks a passing conversation is rejected."""


@dataclass
class PatcherRequest:
    spec_text: str
    editable: list[str]
    schema: dict[str, Any]
    failures: list[dict[str, Any]]
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def prompt(self) -> str:
        numbered = "\n".join(f"{i:4d} | {line}" for i, line in enumerate(self.spec_text.splitlines(), 1))
        failures = self.failures[:MAX_FAILURES]
        more = len(self.failures) - len(failures)
        parts = [
            "## The spec (line numbers for reference)", numbered,
            "## Failing conversations (structured records)", json.dumps(failures, indent=1, default=str),
            *([f"({more} more failure records left out)"] if more > 0 else []),
            "## Patches already rejected (do not repeat them)",
            json.dumps(self.rejected, indent=1, default=str) if self.rejected else "none",
            "## JSON Schema of the spec", json.dumps(self.schema, separators=(",", ":")),
        ]
        return "\n\n".join(parts)


class Patcher:
    """One chat model bound to the patch tool; `calls` counts every request made."""

    def __init__(self, model: Any) -> None:
        if getattr(model, "streaming", False):  # streamed tool-call JSON is parsed leniently; we need strict
            model = model.model_copy(update={"streaming": False})
        self.model = model.bind_tools([PATCH_TOOL], tool_choice="apply_spec_patch")
        self.calls = 0

    async def propose(self, request: PatcherRequest) -> PatchProposal:
        """One model call. Raises `PatchRejected` when the answer is not a usable proposal."""
        from langchain_core.messages import HumanMessage, SystemMessage

        self.calls += 1
        messages = [SystemMessage(_SYSTEM.format(editable=request.editable)), HumanMessage(request.prompt())]
        try:
            answer = await self.model.ainvoke(messages)
        except Exception as exc:  # a model failure is a rejected attempt, never a crash of the loop
            raise PatchRejected(f"the patcher model failed: {type(exc).__name__}: {exc}") from None
        for call in answer.tool_calls:
            if call["name"] == "apply_spec_patch":
                return parse_proposal(call["args"])
        for bad in getattr(answer, "invalid_tool_calls", []):
            raise PatchRejected(f"the tool call arguments are not valid JSON: {str(bad.get('args'))[:200]!r}")
        raise PatchRejected(f"the patcher did not call apply_spec_patch (it said {answer.text[:200]!r})")
