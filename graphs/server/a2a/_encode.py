"""The one encoder of this protocol: a turn's typed events -> A2A stream results and the task.

A turn streams as: its `status-update` to `working`, the reply as `artifact-update` chunks (one
artifact per turn, `append` after the first chunk, `lastChunk` on the last), then the final
`status-update`: `completed`, `input-required` (the turn paused at an `interrupt`: its question is
the status message, and the next message with this `taskId` or `contextId` answers it) or `failed`
(the error's code and message; the thread is as it was before the message).
"""

from __future__ import annotations

from typing import Any

from graphs.events import EndEvent, ErrorEvent, Event, InterruptEvent, TokenEvent
from graphs.server.a2a._tasks import TaskRecord, TaskState, agent_message

__all__ = ["TaskEncoder"]


class TaskEncoder:
    """Feeds one turn's events into `record` and says what to stream for each."""

    def __init__(self, record: TaskRecord) -> None:
        self.record = record
        self.artifact_id = f"reply-{len(record.artifacts) + 1}"
        self._held: str | None = None  # the last chunk is sent once the turn says it was the last
        self._sent = 0
        self._reply: list[str] = []
        self.final = False

    def start(self) -> dict[str, Any]:
        return self._status_update(self.record.set_state("working"))

    def feed(self, event: Event) -> list[dict[str, Any]]:
        """The stream results `event` makes (none for most)."""
        if isinstance(event, TokenEvent):
            self._reply.append(event.text)
            out = [] if self._held is None else [self._chunk(self._held, last=False)]
            self._held = event.text
            return out
        if isinstance(event, ErrorEvent):
            return self._finish("failed", f"{event.code}: {event.message}")
        if isinstance(event, EndEvent):
            return self._finish("input-required" if event.interrupted else "completed", event.reply)
        if isinstance(event, InterruptEvent):
            return []
        return []

    def cancel(self) -> None:
        """The client went away mid-turn: the turn was stopped and the thread restored."""
        if not self.final:
            self.final = True
            self.record.set_state("canceled", self._message("canceled: the client went away before the reply ended; "
                                                            "the thread is as it was before this message"))

    def _finish(self, state: TaskState, text: str) -> list[dict[str, Any]]:
        out = [] if self._held is None or state == "failed" else [self._chunk(self._held, last=True)]
        if state != "failed" and self._reply:
            self.record.artifacts.append({"artifactId": self.artifact_id, "name": "reply",
                                          "parts": [{"kind": "text", "text": "".join(self._reply)}]})
        self.final = True
        out.append(self._status_update(self.record.set_state(state, self._message(text)), final=True))
        return out

    def _message(self, text: str) -> dict[str, Any]:
        return agent_message(text, task_id=self.record.id, context_id=self.record.context_id)

    def _chunk(self, text: str, *, last: bool) -> dict[str, Any]:
        update = {"kind": "artifact-update", "taskId": self.record.id, "contextId": self.record.context_id,
                  "artifact": {"artifactId": self.artifact_id, "name": "reply",
                               "parts": [{"kind": "text", "text": text}]},
                  "append": self._sent > 0, "lastChunk": last}
        self._sent += 1
        return update

    def _status_update(self, status: dict[str, Any], *, final: bool = False) -> dict[str, Any]:
        return {"kind": "status-update", "taskId": self.record.id, "contextId": self.record.context_id,
                "status": status, "final": final}
