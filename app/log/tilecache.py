"""An in-process LRU of full tiles and full entry bundles.

Full tiles never change once the tree has grown past them (tlog-tiles makes them immutable), so
a process may keep them with no invalidation at all; a hit answers without touching the
database. Partial tiles are not cached here: they are cheap and mostly wanted once.
Used from the event loop only, so it needs no lock.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["TileCache", "TileKey"]

TileKey = tuple[int | str, int]
"""``(level or "entries", index)`` of a full tile."""


class TileCache:
    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[TileKey, bytes] = OrderedDict()

    def get(self, key: TileKey) -> bytes | None:
        data = self._items.get(key)
        if data is not None:
            self._items.move_to_end(key)
        return data

    def put(self, key: TileKey, data: bytes) -> None:
        if len(data) > self._max_bytes or key in self._items:
            return
        self._items[key] = data
        self._bytes += len(data)
        while self._bytes > self._max_bytes:
            _, old = self._items.popitem(last=False)
            self._bytes -= len(old)

    def __len__(self) -> int:
        return len(self._items)
