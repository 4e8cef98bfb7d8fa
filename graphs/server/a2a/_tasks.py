"""A2A tasks: one per user message, or continued by the answer to an interrupt (`input-required`).

Kept in the process's memory (the last `MAX_TASKS`), like the Agent Server API's run records: a
task is the record of a turn, while the conversation itself lives in the thread (`contextId`), which
survives restarts and is shared by replicas.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["TaskRecord", "TaskStore"]

TaskState = Literal["submitted", "working", "input-required", "completed", "canceled", "failed"]
TERMINAL: frozenset[TaskState] = frozenset({"completed", "canceled", "failed"})
MAX_TASKS = 10_000


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def agent_message(text: str, *, task_id: str, context_id: str) -> dict[str, Any]:
    return {"kind": "message", "messageId": uuid.uuid4().hex, "role": "agent",
            "parts": [{"kind": "text", "text": text}], "taskId": task_id, "contextId": context_id}


@dataclass
class TaskRecord:
    id: str
    context_id: str
    state: TaskState = "submitted"
    message: dict[str, Any] | None = None
    """The status message: the agent's reply, its question (`input-required`) or what failed."""
    timestamp: str = field(default_factory=_now)
    history: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)

    def set_state(self, state: TaskState, message: dict[str, Any] | None = None) -> dict[str, Any]:
        """Move to `state`; the status object the wire carries."""
        self.state, self.message, self.timestamp = state, message, _now()
        if message is not None:
            self.history.append(message)
        return self.status()

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = {"state": self.state, "timestamp": self.timestamp}
        if self.message is not None:
            status["message"] = self.message
        return status

    def as_task(self, history_length: int | None = None) -> dict[str, Any]:
        history = self.history if history_length is None else self.history[len(self.history) - history_length:] \
            if history_length else []
        return {"kind": "task", "id": self.id, "contextId": self.context_id, "status": self.status(),
                "artifacts": list(self.artifacts), "history": list(history)}


class TaskStore:
    """The tasks of this process, oldest dropped first beyond `limit`."""

    def __init__(self, limit: int = MAX_TASKS) -> None:
        self.limit = limit
        self._tasks: OrderedDict[str, TaskRecord] = OrderedDict()

    def new(self, context_id: str) -> TaskRecord:
        record = TaskRecord(id=uuid.uuid4().hex, context_id=context_id)
        self._tasks[record.id] = record
        while len(self._tasks) > self.limit:
            self._tasks.popitem(last=False)
        return record

    def get(self, task_id: str) -> TaskRecord | None:
        return self._tasks.get(task_id)
