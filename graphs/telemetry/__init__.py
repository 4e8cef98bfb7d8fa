"""What the server tells its operators: Prometheus metrics (`/metrics`), OpenTelemetry traces (opt-in
with `OTEL_*`), and JSON log lines with thread and run ids. One hook: `Agent.turn` watches every
turn (`TurnWatch`) and `Agent.session` counts refusals (`admitted`); no wire protocol reports
anything itself. See `docs/scaling.md`.
"""

from graphs.telemetry._logs import JsonFormatter, json_logs_wanted, log_config, turn_ids
from graphs.telemetry._metrics import MULTIPROC_ENV, render
from graphs.telemetry._tracing import shutdown as shutdown_tracing
from graphs.telemetry._tracing import tool_span
from graphs.telemetry._turns import TurnWatch, admitted

__all__ = [
    "MULTIPROC_ENV",
    "JsonFormatter",
    "TurnWatch",
    "admitted",
    "json_logs_wanted",
    "log_config",
    "render",
    "shutdown_tracing",
    "tool_span",
    "turn_ids",
]
