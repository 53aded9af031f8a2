"""RFC 9162 Merkle hashing and proofs: published vectors, the naive RFC reference, properties."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lnx_client.core.merkle import (
    EMPTY_ROOT,
    CompactRange,
    NodeID,
    ProofError,
    ProofPlan,
    compact_range_node_ids,
    consistency_proof,
    consistency_proof_plan,
    inclusion_proof,
    inclusion_proof_plan,
    leaf_hash,
    node_hash,
    range_node_ids,
    root_at,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# tests/ may or may not be a package (tests/core/__init__.py); import the reference either way.
if __package__:
    from . import reference_merkle as ref
else:  # rootdir-relative "prepend" import mode puts this folder on sys.path
    import reference_merkle as ref

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
VECTORS = json.loads((TESTDATA / "rfc6962_vectors.json").read_text())

MAX_SIZE = 2000
DATA = [b"leaf %d" % i for i in range(MAX_SIZE)]
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _store(data: Sequence[bytes]) -> dict[NodeID, bytes]:
    """Every perfect node of the tree over ``data``, as ``CompactRange.append`` reports them."""
    rng = CompactRange()
    nodes: dict[NodeID, bytes] = {}
    for d in data:
        nodes.update(rng.append(leaf_hash(d)))
    return nodes


STORE = _store(DATA)


def get_nodes(ids: Sequence[NodeID]) -> list[bytes]:
    return [STORE[i] for i in ids]


@cache
def ref_root(size: int) -> bytes:
    return ref.mth(DATA[:size])


def flip_bit(proof: list[bytes], which: int, bit: int) -> list[bytes]:
    out = list(proof)
    h = bytearray(out[which % len(out)])
    h[(bit // 8) % 32] ^= 1 << (bit % 8)
    out[which % len(out)] = bytes(h)
    return out


def fails(fn: Callable[..., object], *args: object) -> bool:
    try:
        fn(*args)
    except ProofError:
        return True
    return False


# --------------------------------------------------------------------------- known answers


def _vector_store() -> tuple[list[bytes], dict[NodeID, bytes]]:
    leaves = [bytes.fromhex(x) for x in VECTORS["leaves_hex"]]
    return leaves, _store(leaves)


def test_empty_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == VECTORS["roots_by_size_hex"]["0"]
    assert CompactRange().root() == EMPTY_ROOT == root_from_leaf_hashes([])


def test_vector_roots() -> None:
    leaves, store = _vector_store()
    rng = CompactRange()
    for size in range(len(leaves) + 1):
        want = VECTORS["roots_by_size_hex"][str(size)]
        assert rng.root().hex() == want
        assert root_from_leaf_hashes([leaf_hash(d) for d in leaves[:size]]).hex() == want
        assert root_at(size, lambda ids: [store[i] for i in ids]).hex() == want
        assert ref.mth(leaves[:size]).hex() == want
        if size < len(leaves):
            rng.append(leaf_hash(leaves[size]))


@pytest.mark.parametrize("vector", VECTORS["inclusion"], ids=lambda v: f"{v['index']}@{v['size']}")
def test_vector_inclusion(vector: dict[str, Any]) -> None:
    _, store = _vector_store()
    want = [bytes.fromhex(h) for h in vector["proof_hex"]]
    got = inclusion_proof(vector["index"], vector["size"], lambda ids: [store[i] for i in ids])
    assert got == want
    leaf = leaf_hash(bytes.fromhex(vector["leaf_hex"]))
    verify_inclusion(leaf, vector["index"], vector["size"], want, bytes.fromhex(vector["root_hex"]))


@pytest.mark.parametrize("vector", VECTORS["consistency"], ids=lambda v: f"{v['first']}-{v['second']}")
def test_vector_consistency(vector: dict[str, Any]) -> None:
    _, store = _vector_store()
    want = [bytes.fromhex(h) for h in vector["proof_hex"]]
    got = consistency_proof(vector["first"], vector["second"], lambda ids: [store[i] for i in ids])
    assert got == want
    verify_consistency(
        vector["first"],
        vector["second"],
        want,
        bytes.fromhex(vector["first_root_hex"]),
        bytes.fromhex(vector["second_root_hex"]),
    )


# --------------------------------------------------------------------------- exhaustive, small trees


def test_every_small_proof_matches_the_rfc_reference() -> None:
    for size in range(1, 65):
        root = ref_root(size)
        assert root_at(size, get_nodes) == root
        for index in range(size):
            proof = inclusion_proof(index, size, get_nodes)
            assert proof == ref.path(index, DATA[:size]), (index, size)
            verify_inclusion(leaf_hash(DATA[index]), index, size, proof, root)
        for first in range(1, size):
            proof = consistency_proof(first, size, get_nodes)
            assert proof == ref.proof(first, DATA[:size]), (first, size)
            verify_consistency(first, size, proof, ref_root(first), root)


def test_compact_range_reports_every_perfect_node_once() -> None:
    rng = CompactRange()
    seen: set[NodeID] = set()
    for size in range(1, 300):
        completed = rng.append(leaf_hash(DATA[size - 1]))
        assert completed[0] == ((0, size - 1), leaf_hash(DATA[size - 1]))
        for nid, h in completed:
            assert nid not in seen
            seen.add(nid)
            level, index = nid
            assert h == ref.mth(DATA[index << level : (index + 1) << level])
        # every perfect node of the tree of this size has been reported
        expected = {(lv, i) for lv in range(size.bit_length()) for i in range(size >> lv)}
        assert seen == expected
        assert rng.root() == ref_root(size)
        assert rng.node_ids() == compact_range_node_ids(size)
        assert rng.hashes == [STORE[n] for n in compact_range_node_ids(size)]


def test_compact_range_from_hashes_resumes() -> None:
    for size in (0, 1, 5, 64, 255, 1000):
        ids = compact_range_node_ids(size)
        rng = CompactRange.from_hashes(size, get_nodes(ids))
        assert rng.size == size and rng.root() == ref_root(size)
        new = rng.extend(leaf_hash(d) for d in DATA[size : size + 37])
        assert rng.root() == ref_root(size + 37)
        assert all(STORE[nid] == h for nid, h in new)


def test_compact_range_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        CompactRange.from_hashes(3, [b"\x00" * 32])
    with pytest.raises(ValueError):
        CompactRange.from_hashes(1, [b"\x00" * 31])
    with pytest.raises(ValueError):
        CompactRange().append(b"short")


def test_root_from_leaf_hashes_matches_reference() -> None:
    hashes = [leaf_hash(d) for d in DATA]
    for size in [*range(0, 130), 255, 256, 257, 1023, 1999, 2000]:
        assert root_from_leaf_hashes(hashes[:size]) == ref_root(size)


def test_range_node_ids() -> None:
    assert range_node_ids(0, 0) == []
    assert range_node_ids(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert range_node_ids(5, 13) == [(0, 5), (1, 3), (2, 2), (0, 12)]
    for begin in range(0, 40):
        for end in range(begin, 40):
            covered = [i for lv, ix in range_node_ids(begin, end) for i in range(ix << lv, (ix + 1) << lv)]
            assert covered == list(range(begin, end))
    with pytest.raises(ValueError):
        range_node_ids(3, 2)


# --------------------------------------------------------------------------- plans and fetching


def test_each_proof_fetches_once_and_logarithmically() -> None:
    calls: list[int] = []

    def counting(ids: Sequence[NodeID]) -> list[bytes]:
        calls.append(len(ids))
        return get_nodes(ids)

    for size, index in [(2000, 0), (2000, 1999), (1999, 1000), (1024, 513), (1, 0)]:
        calls.clear()
        inclusion_proof(index, size, counting)
        assert len(calls) <= 1 and sum(calls) <= 2 * size.bit_length()
    for first, second in [(1, 2000), (1000, 2000), (1999, 2000), (1024, 1999)]:
        calls.clear()
        consistency_proof(first, second, counting)
        assert len(calls) == 1 and calls[0] <= 2 * second.bit_length()


def test_plan_shape_follows_transparency_dev() -> None:
    # Inclusion of leaf 0 in a tree of 7: siblings (0,1), (1,1), then the ephemeral node
    # covering [4, 7) built from (0,6) and (1,2), right to left.
    plan = inclusion_proof_plan(0, 7)
    assert plan == ProofPlan(ids=((0, 1), (1, 1), (0, 6), (1, 2)), begin=2, end=4, ephem=(2, 1))
    hashes = get_nodes(plan.ids)
    assert plan.rehash(hashes) == [hashes[0], hashes[1], node_hash(hashes[3], hashes[2])]
    assert consistency_proof_plan(4, 8).ids == ((2, 1),)
    assert consistency_proof_plan(0, 8).ids == () and consistency_proof_plan(8, 8).ids == ()
    with pytest.raises(ProofError):
        plan.rehash(hashes[:-1])


def test_bad_get_nodes_is_reported() -> None:
    with pytest.raises(ValueError, match="returned"):
        inclusion_proof(3, 10, lambda ids: get_nodes(ids)[:-1])
    with pytest.raises(ValueError, match="32 bytes"):
        root_at(10, lambda ids: [b"x"] * len(ids))


def test_out_of_range_requests() -> None:
    for index, size in [(0, 0), (5, 5), (-1, 5)]:
        with pytest.raises(ProofError):
            inclusion_proof_plan(index, size)
    with pytest.raises(ProofError):
        consistency_proof_plan(6, 5)
    with pytest.raises(ProofError):
        consistency_proof_plan(-1, 5)


# --------------------------------------------------------------------------- verification edge cases


def test_consistency_edge_cases() -> None:
    r5 = ref_root(5)
    verify_consistency(5, 5, [], r5, r5)
    verify_consistency(0, 5, [], EMPTY_ROOT, r5)
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(5, 5, [r5], r5, r5)
    with pytest.raises(ProofError, match="different roots"):
        verify_consistency(5, 5, [], r5, ref_root(4))
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(0, 5, [r5], EMPTY_ROOT, r5)
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 5, [], r5, r5)
    with pytest.raises(ProofError, match="empty"):
        verify_consistency(3, 5, [], ref_root(3), r5)
    with pytest.raises(ProofError, match="invalid"):
        verify_consistency(6, 5, [], r5, r5)
    with pytest.raises(ProofError, match="32 bytes"):
        verify_consistency(3, 5, [b"x"], ref_root(3), r5)


def test_inclusion_edge_cases() -> None:
    leaf = leaf_hash(DATA[0])
    verify_inclusion(leaf, 0, 1, [], ref_root(1))
    with pytest.raises(ProofError, match="out of range"):
        verify_inclusion(leaf, 1, 1, [], ref_root(1))
    with pytest.raises(ProofError, match="too long"):
        verify_inclusion(leaf, 0, 1, [leaf], ref_root(1))
    with pytest.raises(ProofError, match="too short"):
        root_from_inclusion_proof(leaf, 0, 2, [])
    with pytest.raises(ProofError, match="32 bytes"):
        verify_inclusion(leaf[:31], 0, 1, [], ref_root(1))
    with pytest.raises(ProofError, match="32 bytes"):
        verify_inclusion(leaf, 0, 1, [], b"")


# --------------------------------------------------------------------------- properties up to 2000 leaves


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX_SIZE))
    return size, draw(st.integers(0, size - 1))


@st.composite
def first_and_second(draw: st.DrawFn) -> tuple[int, int]:
    second = draw(st.integers(1, MAX_SIZE))
    return draw(st.integers(0, second)), second


@PROPS
@given(size_and_index())
def test_inclusion_proofs_verify(case: tuple[int, int]) -> None:
    size, index = case
    proof = inclusion_proof(index, size, get_nodes)
    assert proof == ref.path(index, DATA[:size])
    assert root_from_inclusion_proof(leaf_hash(DATA[index]), index, size, proof) == ref_root(size)
    verify_inclusion(leaf_hash(DATA[index]), index, size, proof, ref_root(size))


@PROPS
@given(size_and_index(), st.integers(0, 63), st.integers(0, 255), st.data())
def test_tampered_inclusion_proofs_fail(
    case: tuple[int, int], which: int, bit: int, data: st.DataObject
) -> None:
    size, index = case
    leaf, root = leaf_hash(DATA[index]), ref_root(size)
    proof = inclusion_proof(index, size, get_nodes)
    if proof:
        assert fails(verify_inclusion, leaf, index, size, flip_bit(proof, which, bit), root)
        assert fails(verify_inclusion, leaf, index, size, proof[:-1], root)
        assert fails(verify_inclusion, leaf, index, size, proof[1:], root)
    assert fails(verify_inclusion, leaf, index, size, [*proof, proof[0] if proof else root], root)
    assert fails(verify_inclusion, leaf, index, size, [root, *proof], root)
    assert fails(verify_inclusion, flip_bit([leaf], 0, bit)[0], index, size, proof, root)
    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="wrong index")
        assert fails(verify_inclusion, leaf, other, size, proof, root)
    if index + 1 < MAX_SIZE:
        wrong_size = data.draw(st.integers(index + 1, MAX_SIZE).filter(lambda s: s != size), label="size")
        if ref.path(index, DATA[:wrong_size]) != proof:
            assert fails(verify_inclusion, leaf, index, wrong_size, proof, ref_root(wrong_size))


@PROPS
@given(first_and_second())
def test_consistency_proofs_verify(case: tuple[int, int]) -> None:
    first, second = case
    proof = consistency_proof(first, second, get_nodes)
    if 0 < first < second:
        assert proof == ref.proof(first, DATA[:second])
    else:
        assert proof == []
    verify_consistency(first, second, proof, ref_root(first), ref_root(second))


@PROPS
@given(first_and_second(), st.integers(0, 63), st.integers(0, 255), st.data())
def test_tampered_consistency_proofs_fail(
    case: tuple[int, int], which: int, bit: int, data: st.DataObject
) -> None:
    first, second = case
    assume(0 < first < second)
    r1, r2 = ref_root(first), ref_root(second)
    proof = consistency_proof(first, second, get_nodes)
    assert fails(verify_consistency, first, second, flip_bit(proof, which, bit), r1, r2)
    assert fails(verify_consistency, first, second, proof[:-1], r1, r2)
    assert fails(verify_consistency, first, second, proof[1:], r1, r2)
    assert fails(verify_consistency, first, second, [*proof, proof[0]], r1, r2)
    assert fails(verify_consistency, first, second, [r1, *proof], r1, r2)
    assert fails(verify_consistency, first, second, proof, flip_bit([r1], 0, bit)[0], r2)
    assert fails(verify_consistency, first, second, proof, r1, flip_bit([r2], 0, bit)[0])
    if second > 2:
        wrong_first = data.draw(st.integers(1, second - 1).filter(lambda f: f != first), label="first")
        if ref.proof(wrong_first, DATA[:second]) != proof:
            assert fails(verify_consistency, wrong_first, second, proof, ref_root(wrong_first), r2)
    if first + 1 < MAX_SIZE:
        wrong_second = data.draw(
            st.integers(first + 1, MAX_SIZE).filter(lambda s: s != second), label="second"
        )
        if ref.proof(first, DATA[:wrong_second]) != proof:
            assert fails(verify_consistency, first, wrong_second, proof, r1, ref_root(wrong_second))


@given(st.integers(0, 1100), st.integers(1, 140))
def test_frontier_and_completed_nodes_prove_every_appended_leaf(before, count):
    """What ``app.log.service.Integration`` relies on to prove a batch from memory.

    The frontier of a tree of ``before`` leaves plus the perfect nodes that appending ``count``
    more completes hold every node of the inclusion proof of each appended leaf.
    """
    frontier = CompactRange.from_hashes(before, [bytes([i % 256]) * 32 for i in range(before.bit_count())])
    nodes = dict(zip(frontier.node_ids(), frontier.hashes, strict=True))
    nodes.update(frontier.extend(leaf_hash(b"%d" % i) for i in range(before, before + count)))
    for index in range(before, before + count):
        assert set(inclusion_proof_plan(index, before + count).ids) <= nodes.keys()
