"""Merkle tree math of the audit: every perfect node of chosen levels, in one pass over the leaves."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from .core import merkle, tiles

__all__ = ["perfect_levels", "root_and_tile_levels"]


def perfect_levels(leaf_hashes: Sequence[bytes], keep: Callable[[int], bool]) -> dict[int, list[bytes]]:
    """Hashes of all perfect subtrees per Merkle level, keeping the levels ``keep`` selects.

    Level ``k`` has ``len(leaf_hashes) >> k`` nodes; together with the right frontier this gives
    the root (see :func:`root_and_tile_levels`) and every tile's content, in one pass of ~n hashes.
    """
    sha, prefix = hashlib.sha256, b"\x01"
    kept: dict[int, list[bytes]] = {}
    level: Sequence[bytes] = leaf_hashes
    k = 0
    while True:
        if keep(k):
            kept[k] = level if isinstance(level, list) else list(level)  # levels are never mutated
        if len(level) < 2:
            break
        it = iter(level)
        level = [sha(prefix + a + b).digest() for a, b in zip(it, it, strict=False)]
        k += 1
    return kept


def root_and_tile_levels(leaf_hashes: Sequence[bytes]) -> tuple[bytes, dict[int, list[bytes]]]:
    """The root and the tile levels (multiples of 8) of the tree over ``leaf_hashes``."""
    ids = merkle.compact_range_node_ids(len(leaf_hashes))
    frontier = {level for level, _ in ids}
    levels = perfect_levels(leaf_hashes, lambda k: k % tiles.TILE_HEIGHT == 0 or k in frontier)
    if not ids:
        return merkle.EMPTY_ROOT, levels
    hashes = [levels[level][index] for level, index in ids]
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = merkle.node_hash(h, root)
    return root, levels
