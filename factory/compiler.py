"""Spec -> plan: resolve every name so the runtime needs nothing but the plan (see graphs/plan.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from factory.language import models as m
from factory.language.loader import LoadedSpec
from graphs.plan import PLAN_VERSION, EdgePlan, NodePlan, Plan

__all__ = ["compile_plan"]

_PROMPT_REF = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def _model_alias(spec: m.Spec, alias: str | None) -> str:
    name = alias or spec.default_model or next(iter(spec.models))
    assert name in spec.models, f"validated spec names unknown model {name!r}"
    return name


def _prompt_text(loaded: LoadedSpec, prompt: str) -> str:
    """A `prompts` name resolves to its text; anything else is the prompt itself (even one word)."""
    return loaded.prompts[prompt] if _PROMPT_REF.match(prompt) and prompt in loaded.prompts else prompt


def _node(loaded: LoadedSpec, node_id: str, node: Any) -> NodePlan:
    spec = loaded.spec
    data = node.model_dump(exclude={"stream"}, exclude_none=False)
    plan: dict[str, Any] = {"kind": node.kind, "description": node.description}
    if isinstance(node, m.ReplyNode | m.AgentNode | m.ExtractNode | m.ClassifyNode):
        plan["model"] = _model_alias(spec, node.model)
        plan["prompt"] = _prompt_text(loaded, node.prompt)
    for key in ("tools", "max_steps", "into", "labels", "tool", "args", "values", "message", "input",
                "output", "function"):
        if key in data and key not in ("model", "prompt"):
            plan[key] = data[key]
    if isinstance(node, m.SubgraphNode):
        child = loaded.children[node_id]
        plan["plan"] = compile_plan(child)
        # The runtime resolves `python:` modules against the parent's base_dir; a sub-spec in a
        # sub-folder keeps finding its own modules.
        plan["plan"]["python_path"] = [Path(os.path.relpath(child.folder, loaded.folder)).as_posix()]
    return plan  # type: ignore[return-value]


def compile_plan(loaded: LoadedSpec) -> Plan:
    """A JSON-ready plan of a validated spec; deterministic for the same input."""
    spec = loaded.spec
    used_models = set(spec.models)
    tools: dict[str, Any] = {}
    for name, tool in spec.tools.items():
        form = next(f for f in ("python", "http", "returns") if f in tool.model_fields_set)
        entry: dict[str, Any] = {"form": form, "description": tool.description, "parameters": tool.parameters}
        entry[form] = tool.http.model_dump() if form == "http" and tool.http else getattr(tool, form)
        tools[name] = entry
    edges: list[EdgePlan] = [{"source": e.from_, "target": e.to, "when": e.when} for e in spec.edges]
    return {
        "plan": PLAN_VERSION,
        "name": spec.name,
        "description": spec.description,
        "models": {alias: spec.models[alias].model_dump() for alias in sorted(used_models)},  # type: ignore[misc]
        "state": {slot: s.model_dump() for slot, s in spec.state.items()},  # type: ignore[misc]
        "prompts": dict(loaded.prompts),
        "tools": tools,  # type: ignore[dict-item]
        "nodes": {node_id: _node(loaded, node_id, node) for node_id, node in spec.nodes.items()},
        "edges": edges,
        "serve": spec.serve.model_dump(),  # type: ignore[typeddict-item]
        "python_path": ["."],
    }
