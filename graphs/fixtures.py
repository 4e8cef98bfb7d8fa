"""Test fixtures for one thread: the scripted model's replies and the tool mocks.

A conversation under test gives its `script` and `mocks` on its first turn; the `Agent` keeps them
per thread (so two agents in one process, or a reused thread id in a new agent, never share them)
and hands them to every run through the run config, where the scripted model and the tool runner
read them (`from_config`). A served agent accepts
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

__all__ = ["CONFIG_KEY", "WIRE_KEY", "Fixtures", "from_config", "from_wire", "node_path"]

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


WIRE_KEY = "factory_test"
"""An Agent Server run's `config.configurable` key carrying a test's `{"script", "mocks"}` (ours in
test mode, and LangGraph's server hosting the generated module with `FACTORY_TEST_MODE=1`)."""


def from_wire(configurable: Mapping[str, Any] | None) -> tuple[dict[str, list[Any]], dict[str, Any]] | None:
    """`(script, mocks)` from a run's `configurable`, or None when it carries none.

    Raises:
        ValueError: the value is not `{"script": {node: [...]}, "mocks": {tool: ...}}`.
    """
    value = (configurable or {}).get(WIRE_KEY)
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) - {"script", "mocks"}:
        raise ValueError(f"`{WIRE_KEY}` must be an object with `script` and/or `mocks`")
    script, mocks = value.get("script") or {}, value.get("mocks") or {}
    if not isinstance(script, Mapping) or not all(isinstance(v, list) for v in script.values()):
        raise ValueError(f"`{WIRE_KEY}.script` maps node paths to lists of replies")
    if not isinstance(mocks, Mapping):
        raise ValueError(f"`{WIRE_KEY}.mocks` maps tool names to results")
    return dict(script), dict(mocks)


CONFIG_KEY = "factory_fixtures"
"""The run config's `configurable` key that carries a turn's `Fixtures` (owned by one `Agent`)."""


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


def from_config(config: Mapping[str, Any]) -> Fixtures | None:
    """The fixtures of the run `config` belongs to (`Agent.turn` puts them there; None outside tests)."""
    found = config.get("configurable", {}).get(CONFIG_KEY)
    return found if isinstance(found, Fixtures) else None
