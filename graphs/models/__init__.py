"""Model providers: a plan's model settings -> a LangChain chat model.

One switch replaces every model at once: `override="scripted"` (CLI `--model scripted`, env
`FACTORY_MODEL=scripted`) runs any spec offline; `override="openai:NAME"` points every node at
one OpenAI-compatible model; `override="local"` starts (or reuses) the local llama.cpp server
(`graphs.models.local`) and points every node at it.
"""

from __future__ import annotations

import os
from typing import Any

from langchain_core.language_models import BaseChatModel

from graphs.errors import AgentConfigError
from graphs.plan import ModelPlan

__all__ = ["ModelConfigError", "make_chat_model", "model_override_from_env"]

OVERRIDE_ENV = "FACTORY_MODEL"


class ModelConfigError(AgentConfigError):
    """A model cannot be built as configured (a missing key variable, an unknown override)."""


def model_override_from_env() -> str | None:
    return os.environ.get(OVERRIDE_ENV) or None


def make_chat_model(settings: ModelPlan, *, override: str | None = None) -> BaseChatModel:
    """Build the chat model for one alias, applying the run-wide override if any."""
    provider, name = settings["provider"], settings.get("model")
    if override:
        kind, _, rest = override.partition(":")
        if kind not in ("scripted", "openai", "local"):
            raise ModelConfigError(
                f"unknown model override {override!r}; use `scripted`, `local` or `openai:MODEL`")
        if kind == "local":
            return _local(settings)
        provider = kind  # type: ignore[assignment]
        name = rest or name
    if provider == "scripted":
        from graphs.models.scripted import ScriptedChatModel

        delay = float(os.environ.get("FACTORY_SCRIPTED_TOKEN_DELAY_MS", "0")) / 1000
        return ScriptedChatModel(token_delay_s=delay)
    return _openai(settings, name)


LOCAL_MAX_TOKENS = 256
"""A reply's cap on the local model when the spec sets none (a 135M model can ramble to its context)."""


def _local(settings: ModelPlan) -> BaseChatModel:
    """The spec's settings (temperature, max_tokens, timeout) on the local server, which is started or reused."""
    from graphs.models.local import ensure_local_server

    server = ensure_local_server()
    local: dict[str, Any] = {**settings, "base_url": server.base_url, "api_key_env": None}
    if local.get("max_tokens") is None:
        local["max_tokens"] = LOCAL_MAX_TOKENS
    if local.get("temperature") is None:
        local["temperature"] = 0.0  # greedy: the same prompt gives the same answer
    return _openai(local, "local", api_key="local")  # type: ignore[arg-type]


def _openai(settings: ModelPlan, name: str | None, *, api_key: str | None = None) -> BaseChatModel:
    from graphs.models.openai_chat import LeanChatOpenAI

    key_env = settings.get("api_key_env") or "OPENAI_API_KEY"
    base_url = settings.get("base_url") or os.environ.get("OPENAI_BASE_URL")
    api_key = api_key or os.environ.get(key_env)
    if not api_key:
        if not base_url:
            raise ModelConfigError(
                f"the model needs an API key in ${key_env}; set it, or run offline with `--model scripted`")
        api_key = "not-needed"  # local OpenAI-compatible servers (Ollama, vLLM) accept any key
    kwargs: dict[str, Any] = {
        "model": name or os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
        "api_key": api_key,
        "base_url": base_url,
        "timeout": settings.get("timeout_s"),
        "max_retries": settings.get("max_retries", 2),
        "streaming": settings.get("streaming", True),
        "stream_usage": True,
    }
    if settings.get("temperature") is not None:
        kwargs["temperature"] = settings["temperature"]
    if settings.get("max_tokens") is not None:
        kwargs["max_tokens"] = settings["max_tokens"]
    return LeanChatOpenAI(**kwargs)
