"""C2SP tlog-tiles: paths, tile contents, entry bundles, and roots/proofs rebuilt from tiles."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lnx_client.core.merkle import (
    CompactRange,
    NodeID,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_inclusion,
)
from lnx_client.core.tiles import (
    TILE_WIDTH,
    decode_entry_bundle,
    encode_entry_bundle,
    entries_path,
    parse_tile_path,
    root_from_level0_tiles,
    root_from_tiles,
    split_tile,
    tile_node_getter,
    tile_node_ids,
    tile_path,
    tiles_for_size,
)

# tests/ may or may not be a package (tests/core/__init__.py); import the reference either way.
if __package__:
    from . import reference_merkle as ref
else:  # rootdir-relative "prepend" import mode puts this folder on sys.path
    import reference_merkle as ref

# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("args", "path"),
    [
        ((0, 1234067), "tile/0/x001/x234/067"),
        ((0, 1234067, 5), "tile/0/x001/x234/067.p/5"),
        ((0, 0), "tile/0/000"),
        ((3, 999), "tile/3/999"),
        ((1, 1000, 255), "tile/1/x001/000.p/255"),
        ((63, 5), "tile/63/005"),
    ],
)
def test_tile_path(args: tuple[int, ...], path: str) -> None:
    assert tile_path(*args) == path
    level, index, *width = args
    assert parse_tile_path(path) == (level, index, width[0] if width else TILE_WIDTH)


def test_entries_path() -> None:
    assert entries_path(1234067) == "tile/entries/x001/x234/067"
    assert entries_path(1234067, 5) == "tile/entries/x001/x234/067.p/5"
    assert parse_tile_path("tile/entries/x001/x234/067.p/5") == ("entries", 1234067, 5)


@pytest.mark.parametrize(
    "path",
    [
        "tile/00/000",  # leading zero in level
        "tile/64/000",  # level out of range
        "tile/0/5",  # not 3 digits
        "tile/0/x000/005",  # superfluous leading element
        "tile/0/001/005",  # inner element without x
        "tile/0/x001",  # last element with x
        "tile/0/000.p/0",  # zero width
        "tile/0/000.p/256",  # full tile named as partial
        "tile/0/000.p/05",  # leading zero in width
        "tile/0/000.p/",
        "tile/0/000/",
        "/tile/0/000",
        "tile/0/000\n",
        "tile/0/\u0661\u0662\u0663",  # non-ASCII digits
        "tile/entry/000",
        "tile/-1/000",
    ],
)
def test_parse_rejects_non_canonical_paths(path: str) -> None:
    with pytest.raises(ValueError):
        parse_tile_path(path)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 63), st.integers(0, 2**40), st.integers(1, TILE_WIDTH))
def test_path_round_trip(level: int, index: int, width: int) -> None:
    assert parse_tile_path(tile_path(level, index, width)) == (level, index, width)
    assert parse_tile_path(entries_path(index, width)) == ("entries", index, width)


def test_path_arguments_are_checked() -> None:
    for bad in [(-1, 0), (64, 0), (0, -1), (0, 0, 0), (0, 0, 257)]:
        with pytest.raises(ValueError):
            tile_path(*bad)


# --------------------------------------------------------------------------- which tiles a tree has


def test_tiles_for_size_matches_the_spec_example() -> None:
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0
    # tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one
    # partial level 2 tile of width 1."
    tiles = tiles_for_size(70_000)
    assert tiles[:273] == [(0, n, 256) for n in range(273)]
    assert tiles[273:] == [(0, 273, 112), (1, 0, 256), (1, 1, 17), (2, 0, 1)]
    # "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile"
    assert tiles_for_size(256) == [(0, 0, 256), (1, 0, 1)]
    assert tiles_for_size(0) == []
    assert tiles_for_size(1) == [(0, 0, 1)]


def test_tile_node_ids() -> None:
    assert tile_node_ids(0, 2, 3) == [(0, 512), (0, 513), (0, 514)]
    assert tile_node_ids(1, 0, 2) == [(8, 0), (8, 1)]
    with pytest.raises(ValueError):
        tile_node_ids(0, 0, 0)


# --------------------------------------------------------------------------- tiles from stored nodes


SIZE = 70_000
_RANGE = CompactRange()
STORE: dict[NodeID, bytes] = {}
LEAVES = [leaf_hash(b"entry %d" % i) for i in range(SIZE)]
for _h in LEAVES:
    STORE.update(_RANGE.append(_h))


def serve_tile(level: int, index: int, width: int) -> bytes:
    """What the server does: concatenate the stored perfect nodes a tile holds."""
    return b"".join(STORE[n] for n in tile_node_ids(level, index, width))


def test_tile_contents_follow_the_formal_definition() -> None:
    # the n-th tile at level l holds MTH(D[(n*256+i)*256**l : (n*256+i+1)*256**l])
    tile = split_tile(serve_tile(1, 0, 256), 256)
    for i in (0, 1, 255):
        assert tile[i] == root_from_leaf_hashes(LEAVES[i * 256 : (i + 1) * 256])
    partial = split_tile(serve_tile(0, 273, 112), 112)
    assert partial == LEAVES[273 * 256 : 273 * 256 + 112]


@pytest.mark.parametrize("size", [1, 2, 255, 256, 257, 65535, 65536, 65537, SIZE])
def test_root_from_tiles(size: int) -> None:
    want = root_from_leaf_hashes(LEAVES[:size])
    fetched: list[tuple[int, int, int]] = []

    def get_tile(level: int, index: int, width: int) -> bytes:
        fetched.append((level, index, width))
        assert (level, index, width) in tiles_for_size(size)
        return serve_tile(level, index, width)

    assert root_from_tiles(size, get_tile) == want
    assert len(fetched) == len(set(fetched)) <= 3 * ((size.bit_length() + 7) // 8)
    level0 = [serve_tile(*t) for t in tiles_for_size(size) if t[0] == 0]
    assert root_from_level0_tiles(size, level0) == want


def test_proofs_from_tiles_match_proofs_from_nodes() -> None:
    size = 69_999
    get_nodes = tile_node_getter(size, serve_tile)
    root = root_from_tiles(size, serve_tile)
    for index in (0, 255, 256, 40_000, 65_535, 65_536, size - 1):
        proof = inclusion_proof(index, size, get_nodes)
        assert proof == inclusion_proof(index, size, lambda ids: [STORE[i] for i in ids])
        verify_inclusion(LEAVES[index], index, size, proof, root)


def test_tile_node_getter_checks_nodes_and_widths() -> None:
    get_nodes = tile_node_getter(300, serve_tile)
    with pytest.raises(ValueError, match="not a perfect node"):
        get_nodes([(2, 75)])  # covers leaves 300..303
    with pytest.raises(ValueError, match="expected"):
        tile_node_getter(300, lambda lv, n, w: serve_tile(lv, n, w)[:-32])([(0, 299)])


def test_root_from_level0_tiles_checks_the_count() -> None:
    with pytest.raises(ValueError):
        root_from_level0_tiles(10, [serve_tile(0, 0, 9)])


def test_small_tree_tiles_against_reference() -> None:
    data = [b"%d" % i for i in range(600)]
    rng = CompactRange()
    store: dict[NodeID, bytes] = {}
    for d in data:
        store.update(rng.append(leaf_hash(d)))

    def get_tile(level: int, index: int, width: int) -> bytes:
        return b"".join(store[n] for n in tile_node_ids(level, index, width))

    for size in (1, 7, 256, 511, 512, 513, 600):
        assert root_from_tiles(size, get_tile) == ref.mth(data[:size])


# --------------------------------------------------------------------------- entry bundles


def test_entry_bundle_round_trip() -> None:
    entries = [b"", b"a", b"x" * 0xFFFF]
    data = encode_entry_bundle(entries)
    assert data[:5] == b"\x00\x00\x00\x01a"
    assert decode_entry_bundle(data) == entries
    assert decode_entry_bundle(data, 3) == entries


@pytest.mark.parametrize(
    ("data", "width"),
    [
        (b"\x00", None),  # truncated length
        (b"\x00\x05abc", None),  # truncated entry
        (b"", None),  # empty bundle
        (b"\x00\x01a", 2),  # wrong count
        (b"\x00\x00" * 257, None),  # too many entries
    ],
)
def test_entry_bundle_rejects(data: bytes, width: int | None) -> None:
    with pytest.raises(ValueError):
        decode_entry_bundle(data, width)


def test_entry_bundle_encode_limits() -> None:
    with pytest.raises(ValueError):
        encode_entry_bundle([b"x" * 0x10000])
    with pytest.raises(ValueError):
        encode_entry_bundle([])
    with pytest.raises(ValueError):
        encode_entry_bundle([b""] * 257)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=256))
def test_entry_bundle_property(entries: Sequence[bytes]) -> None:
    assert decode_entry_bundle(encode_entry_bundle(entries), len(entries)) == list(entries)


def test_split_tile_rejects() -> None:
    for bad in [b"", b"x" * 33, b"x" * 32 * 257]:
        with pytest.raises(ValueError):
            split_tile(bad)
