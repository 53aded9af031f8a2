"""C2SP tlog-tiles (https://c2sp.org/tlog-tiles): tile paths, tile contents, entry bundles.

Tiles have height 8: the tile at level ``L`` and index ``N`` holds up to 256 consecutive Merkle
Tree Hashes of Merkle level ``8 * L``, with indexes ``N * 256 .. N * 256 + width - 1``; a tile
with fewer than 256 hashes is *partial* and its path ends in ``.p/<width>``. Those hashes are
perfect subtrees, so the server builds tiles from the same stored nodes as its proofs
(``merkle.NodeID``), and a mirror or auditor recomputes nodes, proofs and roots from tiles.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from .merkle import (
    HASH_SIZE,
    GetNodes,
    NodeID,
    root_at,
    root_from_leaf_hashes,
)

__all__ = [
    "MAX_ENTRY_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "GetTile",
    "decode_entry_bundle",
    "encode_entry_bundle",
    "entries_path",
    "parse_tile_path",
    "root_from_level0_tiles",
    "root_from_tiles",
    "split_tile",
    "tile_node_getter",
    "tile_node_ids",
    "tile_path",
    "tiles_for_size",
]

TILE_HEIGHT = 8
"""Merkle levels spanned by one tile (fixed by tlog-tiles)."""

TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile: 256 (8,192 bytes)."""

MAX_LEVEL = 63
"""Highest tile level a path may name (tlog-tiles §Merkle Tree)."""

MAX_ENTRY_SIZE = 0xFFFF
"""Entries in a bundle carry a big-endian uint16 length prefix."""

GetTile = Callable[[int, int, int], bytes]
"""Fetches the bytes of tile ``(level, index, width)``."""

_TILE_PATH = re.compile(
    r"tile/(?P<level>entries|0|[1-9][0-9]?)/(?P<n>(?:x[0-9]{3}/)*[0-9]{3})(?:\.p/(?P<w>[1-9][0-9]{0,2}))?"
)


def _encode_index(index: int) -> str:
    """Index as zero-padded 3-digit path elements, all but the last prefixed by ``x``."""
    if index < 0:
        raise ValueError("tile index must be non-negative")
    parts = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        parts.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(parts))


def _suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width must be between 1 and {TILE_WIDTH}")
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``, e.g. ``tile/0/x001/x234/067`` or ``tile/0/x001/x234/067.p/5``."""
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"tile level must be between 0 and {MAX_LEVEL}")
    return f"tile/{level}/{_encode_index(index)}{_suffix(width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]``: the entry bundle matching level-0 tile ``index``."""
    return f"tile/entries/{_encode_index(index)}{_suffix(width)}"


def parse_tile_path(path: str) -> tuple[int | Literal["entries"], int, int]:
    """Parse a tile or entry-bundle path into ``(level or "entries", index, width)``.

    Only the canonical encoding is accepted (no leading zeros, no superfluous ``x000``
    element, no ``.p/256``); anything else raises ``ValueError``. Full tiles have width 256.
    """
    m = _TILE_PATH.fullmatch(path)
    if m is None:
        raise ValueError(f"not a tile path: {path!r}")
    raw_level, raw_n, raw_w = m.group("level"), m.group("n"), m.group("w")
    index = int(raw_n.replace("x", "").replace("/", ""))
    if _encode_index(index) != raw_n:
        raise ValueError(f"non-canonical tile index in {path!r}")
    width = TILE_WIDTH
    if raw_w is not None:
        width = int(raw_w)
        if width >= TILE_WIDTH:
            raise ValueError(f"partial tile width must be below {TILE_WIDTH} in {path!r}")
    if raw_level == "entries":
        return "entries", index, width
    level = int(raw_level)
    if level > MAX_LEVEL:
        raise ValueError(f"tile level above {MAX_LEVEL} in {path!r}")
    return level, index, width


def tile_node_ids(level: int, index: int, width: int = TILE_WIDTH) -> list[NodeID]:
    """The Merkle nodes a tile holds: level ``8 * level``, indexes ``index * 256 .. + width - 1``."""
    if not 1 <= width <= TILE_WIDTH or level < 0 or index < 0:
        raise ValueError(f"invalid tile ({level}, {index}, {width})")
    start = index * TILE_WIDTH
    merkle_level = level * TILE_HEIGHT
    return [(merkle_level, start + i) for i in range(width)]


def tiles_for_size(size: int) -> list[tuple[int, int, int]]:
    """Every tile ``(level, index, width)`` of a tree of ``size`` leaves, level by level.

    Per level ``l``: ``size // 256**(l+1)`` full tiles, then one partial tile of width
    ``(size // 256**l) % 256`` if that is not zero. Entry bundles mirror the level-0 tiles.
    """
    if size < 0:
        raise ValueError("size must be non-negative")
    tiles: list[tuple[int, int, int]] = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        hashes_at_level = size >> (TILE_HEIGHT * level)
        full, partial = divmod(hashes_at_level, TILE_WIDTH)
        tiles.extend((level, n, TILE_WIDTH) for n in range(full))
        if partial:
            tiles.append((level, full, partial))
        level += 1
    return tiles


def split_tile(data: bytes, width: int | None = None) -> list[bytes]:
    """The hashes of a tile's bytes; checks the length (and the width, if given)."""
    if len(data) % HASH_SIZE or not data or len(data) > TILE_WIDTH * HASH_SIZE:
        raise ValueError(f"a tile is 1 to {TILE_WIDTH} hashes of {HASH_SIZE} bytes")
    if width is not None and len(data) != width * HASH_SIZE:
        raise ValueError(f"tile has {len(data) // HASH_SIZE} hashes, expected {width}")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def _tile_width(size: int, level: int, index: int) -> int:
    """Width of tile ``(level, index)`` in the tree of ``size`` (0 if the tree has no such tile)."""
    hashes_at_level = size >> (TILE_HEIGHT * level)
    full = hashes_at_level >> TILE_HEIGHT
    if index < full:
        return TILE_WIDTH
    return hashes_at_level % TILE_WIDTH if index == full else 0


def tile_node_getter(size: int, get_tile: GetTile) -> GetNodes:
    """A ``get_nodes`` function (see ``merkle``) that reads perfect nodes from the tiles of ``size``.

    A node at Merkle level ``8t + h`` (``h < 8``) is rebuilt from ``2**h`` hashes of one tile at
    level ``t``. Each tile is fetched at most once per call.
    """

    def get_nodes(ids: Sequence[NodeID]) -> list[bytes]:
        cache: dict[tuple[int, int], list[bytes]] = {}  # (tile level, tile index)
        out: list[bytes] = []
        for level, index in ids:
            if level < 0 or index < 0 or ((index + 1) << level) > size:
                raise ValueError(f"node {(level, index)} is not a perfect node of a tree of size {size}")
            t, h = divmod(level, TILE_HEIGHT)
            n, offset = divmod(index << h, TILE_WIDTH)  # position of its first hash at level 8t
            if (t, n) not in cache:
                width = _tile_width(size, t, n)
                cache[(t, n)] = split_tile(get_tile(t, n, width), width)
            out.append(root_from_leaf_hashes(cache[(t, n)][offset : offset + (1 << h)]))
        return out

    return get_nodes


def root_from_tiles(size: int, get_tile: GetTile) -> bytes:
    """MTH of the tree of ``size`` from its tiles: the few the right frontier lies in."""
    return root_at(size, tile_node_getter(size, get_tile))


def root_from_level0_tiles(size: int, tiles: Iterable[bytes]) -> bytes:
    """MTH of the tree of ``size`` from all its level-0 tiles in order (every leaf hash)."""
    leaves: list[bytes] = []
    for data in tiles:
        leaves.extend(split_tile(data))
    if len(leaves) != size:
        raise ValueError(f"level-0 tiles hold {len(leaves)} leaf hashes, expected {size}")
    return root_from_leaf_hashes(leaves)


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry with a big-endian uint16 length prefix (tlog-tiles §Log entries)."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise ValueError(f"an entry bundle holds 1 to {TILE_WIDTH} entries")
    parts: list[bytes] = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise ValueError(f"entry of {len(entry)} bytes does not fit a uint16 length")
        parts.append(len(entry).to_bytes(2, "big"))
        parts.append(bytes(entry))
    return b"".join(parts)


def decode_entry_bundle(data: bytes, width: int | None = None) -> list[bytes]:
    """The entries of a bundle; rejects truncation, trailing bytes and (if given) a wrong count."""
    entries: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError("entry bundle is truncated in a length prefix")
        length = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + length > len(data):
            raise ValueError("entry bundle is truncated in an entry")
        entries.append(bytes(data[pos : pos + length]))
        pos += length
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise ValueError(f"an entry bundle holds 1 to {TILE_WIDTH} entries, got {len(entries)}")
    if width is not None and len(entries) != width:
        raise ValueError(f"entry bundle has {len(entries)} entries, expected {width}")
    return entries
