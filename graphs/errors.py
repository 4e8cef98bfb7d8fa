"""Map a failure during a turn to the `error` event's `code`, `retryable` and a safe message."""

from __future__ import annotations

__all__ = ["AgentConfigError", "classify_error"]


class AgentConfigError(RuntimeError):
    """The agent cannot be built as configured (a model without its key, a spec module that does not
    import): a user's problem, reported without a traceback."""


def classify_error(exc: BaseException) -> tuple[str, bool, str]:
    """`(code, retryable, message)` for an exception raised while a turn ran."""
    from graphs.nodes._common import NodeError

    if isinstance(exc, NodeError):
        return exc.code, exc.retryable, str(exc)
    name = type(exc).__name__
    try:
        import openai
    except ImportError:  # pragma: no cover - openai ships with langchain-openai
        openai = None  # type: ignore[assignment]
    if openai is not None:
        if isinstance(exc, openai.RateLimitError):
            return "model_rate_limited", True, "the model is rate limited (HTTP 429); retry shortly"
        if isinstance(exc, openai.APITimeoutError):
            return "model_timeout", True, "the model did not answer in time"
        if isinstance(exc, openai.APIStatusError):
            retry = exc.status_code >= 500
            return "model_error", retry, f"the model server answered HTTP {exc.status_code}"
        if isinstance(exc, openai.APIConnectionError):
            return "model_unreachable", True, "the model server could not be reached or cut the stream"
    if isinstance(exc, TimeoutError):
        return "timeout", True, "the turn timed out"
    if "httpx" in type(exc).__module__ or "httpcore" in type(exc).__module__:
        return "model_unreachable", True, f"the model stream broke: {name}"
    return "internal_error", False, f"{name}: {exc}"
