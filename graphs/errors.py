"""Failures during a turn, and how each becomes the `error` event's `code`, `retryable` and message.

The codes are `graphs.events.ErrorCode` (the one closed set, documented in `docs/errors.md`).
"""

from __future__ import annotations

from graphs.events import ERROR_CODES, ErrorCode

__all__ = ["AgentConfigError", "NodeError", "classify_error"]


class AgentConfigError(RuntimeError):
    """The agent cannot be built as configured (a model without its key, a spec module that does not
    import): a user's problem, reported without a traceback."""


class NodeError(RuntimeError):
    """A node could not do its work (bad model output, a failed tool); safe to show to the user.

    `retryable` defaults to what `ERROR_CODES` says of `code`.
    """

    def __init__(self, message: str, *, code: ErrorCode, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.retryable = ERROR_CODES[code].retryable if retryable is None else retryable


def classify_error(exc: BaseException) -> tuple[ErrorCode, bool, str]:
    """`(code, retryable, message)` for an exception raised while a turn ran."""
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
        if isinstance(exc, openai.BadRequestError) and _is_context_length(exc):
            return ("context_length", False,
                    "the conversation no longer fits the model's context window; give the node or model a "
                    "`history` window (e.g. `history: {last: 20}`)")
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


def _is_context_length(exc: BaseException) -> bool:
    """OpenAI says `context_length_exceeded`; llama.cpp and others say it in words."""
    code = getattr(exc, "code", None)
    text = str(exc).lower()
    return code == "context_length_exceeded" or "context length" in text or "context window" in text \
        or "exceeds the context" in text or "maximum context" in text
