"""What the fake model saw: every chat request and every notable event, in memory.

Tests assert on the wire ("the model received the tool result", "the model saw the connection
close"), so the record is written from the server's event loop and read from the test thread;
a condition variable lets a test wait for an event instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["MockEvent", "RecordedRequest", "Recorder"]


@dataclass
class RecordedRequest:
    """One `POST /v1/chat/completions` as received, and how it ended."""

    id: int
    path: str
    body: Any
    """The parsed JSON body (or the raw text, when it was not valid JSON)."""
    received_at: float
    """`time.time()` when the request arrived."""
    rule: str | None = None
    """Which reply answered: `queue[i]`, a rule's name or `rules[i]`, or `default`."""
    stream: bool = False
    status: int | None = None
    outcome: str = "pending"
    """`completed`, `disconnected` (client left first), `cut`, `failed` (scripted status), `error`
    (rejected as malformed), `stopped` (server stopped while hanging) or `pending`."""
    finished_at: float | None = None
    tokens_sent: int = 0

    @property
    def disconnected(self) -> bool:
        """The client closed the connection before the reply was complete."""
        return self.outcome == "disconnected"

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or []) if isinstance(self.body, dict) else []

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "disconnected": self.disconnected}


@dataclass(frozen=True)
class MockEvent:
    """Something that happened to a request: `hang` (started hanging), or a non-`completed` outcome."""

    kind: str
    request_id: int
    at: float = field(default_factory=time.time)
    detail: str = ""


class Recorder:
    """Thread-safe lists of requests and events."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._events: list[MockEvent] = []

    def new_request(self, path: str, body: Any) -> RecordedRequest:
        with self._cond:
            record = RecordedRequest(id=len(self._requests) + 1, path=path, body=body,
                                     received_at=time.time())
            self._requests.append(record)
            self._cond.notify_all()
            return record

    def finish(self, record: RecordedRequest, outcome: str, detail: str = "") -> None:
        """Close a request's record; non-normal outcomes also become events."""
        with self._cond:
            record.outcome = outcome
            record.finished_at = time.time()
            if outcome not in ("completed", "pending"):
                self._events.append(MockEvent(kind=outcome, request_id=record.id, detail=detail))
            self._cond.notify_all()

    def event(self, kind: str, record: RecordedRequest, detail: str = "") -> None:
        with self._cond:
            self._events.append(MockEvent(kind=kind, request_id=record.id, detail=detail))
            self._cond.notify_all()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    @property
    def events(self) -> list[MockEvent]:
        with self._cond:
            return list(self._events)

    def clear(self) -> None:
        with self._cond:
            self._requests.clear()
            self._events.clear()

    def wait_for_event(self, kind: str, timeout: float = 5.0) -> MockEvent:
        """The first event of this kind, waiting up to `timeout` seconds for it to happen."""
        with self._cond:
            found = self._cond.wait_for(
                lambda: next((e for e in self._events if e.kind == kind), None), timeout=timeout
            )
        if found is None:
            raise TimeoutError(f"mock-llm: no {kind!r} event within {timeout}s")
        return found

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return {"requests": [r.to_dict() for r in self._requests],
                    "events": [asdict(e) for e in self._events]}
