"""OpenTelemetry traces, opt-in with the standard `OTEL_*` variables.

Tracing is on when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`) or an OTLP endpoint
is set (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), and
`OTEL_SDK_DISABLED` is not `true`. The OTLP exporter (HTTP/protobuf) reads its own variables
(endpoint, headers, timeout); `OTEL_SERVICE_NAME` names the service (default: the agent's name).

Spans, after the GenAI semantic conventions: one per turn (`invoke_agent AGENT`, with
`gen_ai.conversation.id` = the thread id and `factory.run_id`), one per node (`node PATH`), one per
model call (`chat MODEL`, with `gen_ai.request.model`, `gen_ai.usage.input_tokens` and
`output_tokens`) and one per tool call (`execute_tool NAME`). Model spans come from a LangChain
callback handler in the turn's run config, tool spans from `Toolbox.call` (`tool_span`), both
parented to the node that runs them.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler

from graphs.events import EndEvent

__all__ = ["TurnTrace", "enabled", "node_span", "shutdown", "tool_span", "turn_span"]

_TRACER: Any = None
_PROVIDER: Any = None
_CONFIGURED = False
_CURRENT: contextvars.ContextVar[TurnTrace | None] = contextvars.ContextVar("factory_turn_trace", default=None)
_NODE: contextvars.ContextVar[Any] = contextvars.ContextVar("factory_node_span", default=None)


def enabled() -> bool:
    """True when the `OTEL_*` variables ask for traces."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return bool(exporter) or bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                                  or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def _tracer(agent: str) -> Any:
    """The process's tracer, set up on first use (None when tracing is off)."""
    global _TRACER, _PROVIDER, _CONFIGURED
    if _CONFIGURED:
        return _TRACER
    _CONFIGURED = True
    if not enabled():
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or agent})
    provider = TracerProvider(resource=resource)
    exporter: SpanExporter
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    _PROVIDER, _TRACER = provider, provider.get_tracer("graphs")
    return _TRACER


def shutdown() -> None:
    """Flush the spans still buffered (the server's lifespan end)."""
    if _PROVIDER is not None:
        with contextlib.suppress(Exception):
            _PROVIDER.shutdown()


def turn_span(agent: str, *, thread_id: str, run_id: str) -> TurnTrace | None:
    """The spans of one turn, or None when tracing is off."""
    tracer = _tracer(agent)
    if tracer is None:
        return None
    trace = TurnTrace(tracer, agent, thread_id=thread_id, run_id=run_id)
    _CURRENT.set(trace)  # the turn's graph task is created after this: its nodes and tools see it
    return trace


@contextlib.contextmanager
def node_span(path: str, kind: str) -> Iterator[None]:
    """A span around one node of the current turn; what runs inside (models, tools, a sub-spec's
    nodes) is parented to it. Nothing when tracing is off."""
    trace = _CURRENT.get()
    if trace is None or trace.closed:
        yield
        return
    span = trace.child(f"node {path}", {"factory.node": path, "factory.node.kind": kind})
    token = _NODE.set(span)
    try:
        yield
    except BaseException as exc:
        if type(exc).__name__ != "GraphInterrupt":  # an `interrupt` node pausing the run is no failure
            _fail(span, type(exc).__name__, str(exc))
        raise
    finally:
        _NODE.reset(token)
        span.end()


@contextlib.contextmanager
def tool_span(name: str) -> Iterator[None]:
    """A span around one tool call of the current turn (nothing when tracing is off)."""
    trace = _CURRENT.get()
    if trace is None or trace.closed:
        yield
        return
    span = trace.child(f"execute_tool {name}", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name})
    try:
        yield
    except BaseException as exc:
        _fail(span, type(exc).__name__, str(exc))
        raise
    finally:
        span.end()


def _fail(span: Any, code: str, message: str) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("error.type", code)
    span.set_status(Status(StatusCode.ERROR, message[:200]))


class TurnTrace:
    """The turn's span, and the model spans its callback handler opens (under the running node's)."""

    def __init__(self, tracer: Any, agent: str, *, thread_id: str, run_id: str) -> None:
        self.tracer = tracer
        self.ids = {"factory.thread_id": thread_id, "factory.run_id": run_id}
        self.span = tracer.start_span(f"invoke_agent {agent}", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent,
            "gen_ai.conversation.id": thread_id, **self.ids})
        self.closed = False
        self.callbacks = [_ModelSpans(self)]

    def child(self, name: str, attributes: dict[str, Any]) -> Any:
        """A span under the running node (the context's), or under the turn."""
        from opentelemetry import trace

        parent = _NODE.get() or self.span
        return self.tracer.start_span(name, context=trace.set_span_in_context(parent),
                                      attributes={**attributes, **self.ids})

    def failed(self, code: str, message: str) -> None:
        _fail(self.span, code, message)

    def ended(self, event: EndEvent) -> None:
        for kind in ("input", "output"):
            if f"{kind}_tokens" in event.usage:
                self.span.set_attribute(f"gen_ai.usage.{kind}_tokens", event.usage[f"{kind}_tokens"])

    def close(self, outcome: str) -> None:
        self.closed = True
        if _CURRENT.get() is self:
            _CURRENT.set(None)
        self.span.set_attribute("factory.outcome", outcome)
        self.span.end()


class _ModelSpans(AsyncCallbackHandler):
    """LangChain callbacks -> one `chat MODEL` span per model call."""

    def __init__(self, trace: TurnTrace) -> None:
        self.trace = trace
        self.spans: dict[UUID, Any] = {}

    async def on_chat_model_start(self, serialized: dict[str, Any], messages: Any, *, run_id: UUID,
                                  metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        params = kwargs.get("invocation_params") or {}
        model = (metadata or {}).get("ls_model_name") or params.get("model") or params.get("model_name") or "model"
        provider = (metadata or {}).get("ls_provider") or "unknown"
        self.spans[run_id] = self.trace.child(f"chat {model}", {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": str(model),
            "gen_ai.provider.name": str(provider)})

    async def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        span = self.spans.pop(run_id, None)
        if span is None:
            return
        usage = _usage(response)
        for key in ("input_tokens", "output_tokens"):
            if key in usage:
                span.set_attribute(f"gen_ai.usage.{key}", usage[key])
        span.end()

    async def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        span = self.spans.pop(run_id, None)
        if span is not None:
            _fail(span, type(error).__name__, str(error))
            span.end()


def _usage(response: Any) -> dict[str, int]:
    for generations in getattr(response, "generations", None) or []:
        for generation in generations:
            message = getattr(generation, "message", None)
            usage = getattr(message, "usage_metadata", None)
            if usage:
                return dict(usage)
    return {}
