"""Log lines as JSON when stderr is not a terminal (a container, a service manager, a test harness).

Each line is one object: `time`, `level`, `logger`, `message`, and the `thread_id` and `run_id` of
the turn that logged it (from `turn_context`), plus `exc` with the traceback when there is one. On a
terminal the logs stay uvicorn's readable lines. `FACTORY_LOG_FORMAT=json|text` forces either.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = ["JsonFormatter", "json_logs_wanted", "log_config", "turn_ids"]

turn_ids: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("factory_turn_ids", default=None)
"""(thread id, run id) of the turn running in this context; set by `TurnWatch`."""


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        ids = turn_ids.get()
        if ids is not None:
            line["thread_id"], line["run_id"] = ids
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def json_logs_wanted() -> bool:
    forced = os.environ.get("FACTORY_LOG_FORMAT", "").strip().lower()
    if forced in ("json", "text"):
        return forced == "json"
    return not (sys.stderr is not None and sys.stderr.isatty())


def log_config(level: str = "info") -> dict[str, Any]:
    """A `logging.config.dictConfig` for uvicorn and the app: JSON lines on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    loggers = {name: {"handlers": ["json"], "level": level.upper(), "propagate": False}
               for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "graphs")}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"json": handler},
        "loggers": loggers,
        "root": {"handlers": ["json"], "level": "WARNING"},
    }
