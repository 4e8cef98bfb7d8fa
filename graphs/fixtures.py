"""Test fixtures for one thread: the scripted model's replies and the tool mocks.

A conversation under test installs its `script` and `mocks` for its thread id; the scripted model
and the tool runner look them up by the thread id of the run they serve. A served agent accepts
fixtures only when started in test mode (see `graphs.server`).

Scripts are keyed by the node's *path* (`node_path`): a node of the spec itself by its id
(`understand`), a node inside a subgraph node by the subgraph node's id, a dot, and its own id
(`collect_address.parse`; deeper nesting adds more dots). Node ids cannot contain dots, so the
key is never ambiguous, and the same name appears in `node` events and in the turn's `path`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fixtures", "clear", "for_thread", "install", "node_path"]

_NO_MOCK = object()


@dataclass
class Fixtures:
    script: dict[str, list[Any]] = field(default_factory=dict)
    mocks: dict[str, Any] = field(default_factory=dict)
    _cursor: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self, node_id: str) -> tuple[bool, Any]:
        """`(True, entry)` with the node's next scripted reply, or `(False, None)` when none is left."""
        with self._lock:
            entries = self.script.get(node_id, [])
            index = self._cursor.get(node_id, 0)
            if index >= len(entries):
                return False, None
            self._cursor[node_id] = index + 1
            return True, entries[index]

    def mock(self, tool: str) -> Any:
        return self.mocks.get(tool, _NO_MOCK)

    @staticmethod
    def is_mocked(value: Any) -> bool:
        return value is not _NO_MOCK


_REGISTRY: dict[str, Fixtures] = {}


def node_path(config: Mapping[str, Any], fallback: str = "?") -> str:
    """The dotted path of the node a LangGraph `config` belongs to (`collect_address.parse`).

    LangGraph's checkpoint namespace is `node:task|child:task|...` for a node running inside
    subgraphs; dropping the task ids gives the path. Outside a run, `fallback` is returned.
    """
    namespace = str(config.get("configurable", {}).get("checkpoint_ns") or "")
    parts = [segment.partition(":")[0] for segment in namespace.split("|") if segment]
    if parts:
        return ".".join(parts)
    return str(config.get("metadata", {}).get("langgraph_node") or fallback)


def install(thread_id: str, *, script: dict[str, list[Any]] | None = None,
            mocks: dict[str, Any] | None = None) -> Fixtures:
    fixtures = Fixtures(script=dict(script or {}), mocks=dict(mocks or {}))
    _REGISTRY[thread_id] = fixtures
    return fixtures


def for_thread(thread_id: str | None) -> Fixtures | None:
    return _REGISTRY.get(thread_id) if thread_id else None


def clear(thread_id: str) -> None:
    _REGISTRY.pop(thread_id, None)
