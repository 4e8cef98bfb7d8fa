"""A checkpoint serializer whose cost per turn does not grow with the thread's history.

LangGraph stores a thread's whole state in every checkpoint, and a turn reads the thread two or
three times and writes it once. With LangGraph's `JsonPlusSerializer` each read decodes every
message of the history again (building a pydantic message per item: most of a long thread's
per-turn CPU) and each write encodes every message again. This serializer gives the same bytes and
the same objects, with two caches:

- decoding: the last blobs written or decoded, keyed by their bytes. A read of a checkpoint that
  is already known (the common case: this process wrote it at the end of the turn before) costs a
  hash of its bytes and a copy of its containers; the messages, immutable in practice, are shared.
  The bytes are the key, so a blob another replica wrote is simply decoded: nothing to invalidate.
- encoding: each message's msgpack extension, kept while the message object lives. A checkpoint
  write encodes only the messages it has not seen and copies the others' bytes.

Both caches are bounded (`max_cached_bytes`), and the bytes written are exactly what LangGraph's
serializer writes (a test reads them back with a plain `JsonPlusSerializer`).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any

import ormsgpack
from langchain_core.messages import BaseMessage
from langgraph.checkpoint.serde.jsonplus import (
    JsonPlusSerializer,
    _msgpack_default,
    _option,
)

__all__ = ["CachingSerializer"]


def _copy_containers(value: Any) -> Any:
    """A copy of every dict and list in `value`; the leaves (messages, strings) are shared."""
    kind = type(value)
    if kind is dict:
        return {key: _copy_containers(item) if type(item) in _CONTAINERS else item for key, item in value.items()}
    if kind is list:
        return [_copy_containers(item) if type(item) in _CONTAINERS else item for item in value]
    return value


_CONTAINERS = frozenset({dict, list})


class CachingSerializer(JsonPlusSerializer):
    """`JsonPlusSerializer` with a decode cache keyed by bytes and an encode cache per message object."""

    def __init__(self, *, max_cached_bytes: int = 64 << 20, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_cached_bytes = max_cached_bytes
        self._decoded: OrderedDict[bytes, Any] = OrderedDict()
        self._decoded_bytes = 0
        self._encoded: dict[int, tuple[weakref.ref[Any], Any]] = {}  # single dict operations: GIL-atomic
        self._lock = threading.Lock()  # the decode cache's order and size; savers may call from threads

    # ------------------------------------------------------------------------- decode

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        kind, raw = data
        if kind != "msgpack" or len(raw) < _SMALL:  # small blobs: decoding is cheaper than caching
            return super().loads_typed(data)
        with self._lock:
            cached = self._decoded.get(raw, _MISS)
            if cached is not _MISS:
                self._decoded.move_to_end(raw)
        if cached is _MISS:
            cached = super().loads_typed(data)
            with self._lock:
                self._remember(bytes(raw), cached)
        return _copy_containers(cached)

    def _remember(self, raw: bytes, value: Any) -> None:
        if raw in self._decoded or len(raw) > self.max_cached_bytes // 4:
            return
        self._decoded[raw] = value
        self._decoded_bytes += len(raw)
        while self._decoded_bytes > self.max_cached_bytes and self._decoded:
            old, _ = self._decoded.popitem(last=False)
            self._decoded_bytes -= len(old)

    # ------------------------------------------------------------------------- encode

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        if obj is None or isinstance(obj, bytes | bytearray):
            return super().dumps_typed(obj)
        try:
            raw = ormsgpack.packb(obj, default=self._default, option=_option)
        except ormsgpack.MsgpackEncodeError:
            return super().dumps_typed(obj)  # the pickle fallback, if configured
        if len(raw) >= _SMALL:  # the next read of this checkpoint (next turn) decodes nothing
            snapshot = _copy_containers(obj)
            with self._lock:
                self._remember(raw, snapshot)
        return "msgpack", raw

    def _default(self, obj: Any) -> Any:
        if not isinstance(obj, BaseMessage):
            return _msgpack_default(obj)
        key = id(obj)
        entry = self._encoded.get(key)
        if entry is not None and entry[0]() is obj:
            return entry[1]
        ext = _msgpack_default(obj)
        encoded = self._encoded
        self._encoded[key] = (weakref.ref(obj, lambda _: encoded.pop(key, None)), ext)
        return ext


_MISS = object()
_SMALL = 1024
