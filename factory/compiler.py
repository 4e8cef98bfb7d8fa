"""Spec -> plan: resolve every name so the runtime needs nothing but the plan (see `graphs/plan.py`).

The plan is typed per part (`ModelPlan`, a per-kind node plan from the registry of node kinds,
`ToolPlan`, `ServePlan`...). Keys added to the language after a plan was first written (`history`,
`mcp_servers`, `serve.broker`, `serve.grace_s`, `serve.workers`) are written only when a spec sets them, so
the plan of a spec that does not use them stays byte for byte what it was; the runtime fills the
defaults (`graphs.plan.serve_settings`).
"""

from __future__ import annotations

import os
from pathlib import Path

from factory.language import models as m
from factory.language._context import is_prompt_name
from factory.language._kinds import PlanContext, history_plan, spec_of
from factory.language.loader import LoadedSpec
from graphs.plan import (
    PLAN_VERSION,
    EdgePlan,
    HttpCallPlan,
    McpServerPlan,
    ModelPlan,
    Plan,
    ServePlan,
    SlotPlan,
    ToolForm,
    ToolPlan,
)

__all__ = ["compile_plan", "mcp_server_plan"]


def _model_alias(spec: m.Spec, alias: str | None) -> str:
    name = alias or spec.default_model or next(iter(spec.models))
    assert name in spec.models, f"validated spec names unknown model {name!r}"
    return name


def _prompt_text(loaded: LoadedSpec, prompt: str) -> str:
    """A `prompts` name resolves to its text; anything else is the prompt itself (the prompt-name rule)."""
    return loaded.prompts[prompt] if is_prompt_name(prompt) and prompt in loaded.prompts else prompt


def _model(settings: m.ModelSettings) -> ModelPlan:
    plan: ModelPlan = {
        "provider": settings.provider, "model": settings.model, "base_url": settings.base_url,
        "api_key_env": settings.api_key_env, "temperature": settings.temperature, "max_tokens": settings.max_tokens,
        "timeout_s": settings.timeout_s, "max_retries": settings.max_retries, "streaming": settings.streaming,
    }
    if settings.history is not None:
        plan["history"] = history_plan(settings.history)
    return plan


def _slot(slot: m.Slot) -> SlotPlan:
    return {"type": slot.type, "description": slot.description, "default": slot.default,
            "enum": None if slot.enum is None else list(slot.enum), "reducer": slot.reducer}


def _tool(tool: m.Tool) -> ToolPlan:
    plan: ToolPlan = {"form": _form(tool), "description": tool.description, "parameters": tool.parameters}
    if tool.python is not None:
        plan["python"] = tool.python
    elif tool.http is not None:
        http: HttpCallPlan = {"method": tool.http.method, "url": tool.http.url, "headers": dict(tool.http.headers),
                              "headers_env": dict(tool.http.headers_env), "body": tool.http.body,
                              "timeout_s": tool.http.timeout_s}
        plan["http"] = http
    elif tool.mcp is not None:
        plan["mcp"] = tool.mcp
    else:
        plan["returns"] = tool.returns
    return plan


def _form(tool: m.Tool) -> ToolForm:
    if tool.python is not None:
        return "python"
    if tool.http is not None:
        return "http"
    if tool.mcp is not None:
        return "mcp"
    return "returns"


def mcp_server_plan(server: m.McpServer) -> McpServerPlan:
    """One `mcp_servers` entry as the plan (and `factory validate --online`) use it."""
    plan: McpServerPlan = {"tools": None if server.tools is None else list(server.tools)}
    if server.command is not None:
        plan["command"], plan["args"], plan["env"] = server.command, list(server.args), list(server.env)
    if server.url is not None:
        plan["url"], plan["headers"] = server.url, dict(server.headers)
    return plan


def _serve(serve: m.ServeSettings) -> ServePlan:
    plan: ServePlan = {
        "path": serve.path, "checkpointer": serve.checkpointer,
        "auth": None if serve.auth is None else {"api_keys_env": serve.auth.api_keys_env},
        "cors_origins": list(serve.cors_origins), "playground": serve.playground,
        "max_message_chars": serve.max_message_chars, "max_body_bytes": serve.max_body_bytes,
    }
    if "broker" in serve.model_fields_set:
        plan["broker"] = serve.broker
    if "grace_s" in serve.model_fields_set:
        plan["grace_s"] = serve.grace_s
    if "workers" in serve.model_fields_set:
        plan["workers"] = serve.workers
    return plan


def _child_plan(loaded: LoadedSpec, node_id: str) -> Plan:
    child = loaded.children[node_id]
    plan = compile_plan(child)
    # The runtime resolves `python:` modules against the parent's base_dir; a sub-spec in a
    # sub-folder keeps finding its own modules.
    plan["python_path"] = [Path(os.path.relpath(child.folder, loaded.folder)).as_posix()]
    return plan


def compile_plan(loaded: LoadedSpec) -> Plan:
    """A JSON-ready plan of a validated spec; deterministic for the same input."""
    spec = loaded.spec
    context = PlanContext(model=lambda alias: _model_alias(spec, alias),
                          prompt=lambda prompt: _prompt_text(loaded, prompt),
                          child=lambda node_id: _child_plan(loaded, node_id))
    edges: list[EdgePlan] = [{"source": e.from_, "target": e.to, "when": e.when} for e in spec.edges]
    plan: Plan = {
        "plan": PLAN_VERSION,
        "name": spec.name,
        "description": spec.description,
        "models": {alias: _model(spec.models[alias]) for alias in sorted(spec.models)},
        "state": {name: _slot(slot) for name, slot in spec.state.items()},
        "prompts": dict(loaded.prompts),
        "tools": {name: _tool(tool) for name, tool in spec.tools.items()},
        "nodes": {node_id: spec_of(node).plan(context, node_id, node) for node_id, node in spec.nodes.items()},
        "edges": edges,
        "serve": _serve(spec.serve),
        "python_path": ["."],
    }
    if spec.mcp_servers:
        plan["mcp_servers"] = {name: mcp_server_plan(server) for name, server in spec.mcp_servers.items()}
    return plan
