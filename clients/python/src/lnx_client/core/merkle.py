"""Merkle tree hashing, proofs and verification of RFC 9162 §2.1 (same as RFC 6962 §2.1).

The tree is addressed by *perfect* subtrees: ``NodeID = (level, index)`` covers the leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 are the leaf hashes. A perfect node never
changes once the tree has grown past it, so it is what storage keeps. Every other node of a tree
of size ``n`` (on its right edge) is *ephemeral* and is recomputed from a few perfect nodes.

Proof generation follows the design of transparency-dev/merkle (``proof.Nodes`` and ``Rehash``):
a *plan* lists the perfect nodes a proof needs, the caller fetches them in one batch
(``get_nodes``), and the plan folds the ephemeral run into a single hash. Nothing here ever reads
all the leaves: a proof is O(log n) node look-ups.

Verification implements the algorithms of RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2
(consistency) literally, with the edge cases (empty trees, equal sizes) handled explicitly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "GetNodes",
    "NodeID",
    "ProofError",
    "ProofPlan",
    "compact_range_node_ids",
    "consistency_proof",
    "consistency_proof_plan",
    "inclusion_proof",
    "inclusion_proof_plan",
    "leaf_hash",
    "node_hash",
    "range_node_ids",
    "root_at",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Size in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""MTH({}) = HASH() — the root of the empty tree (RFC 9162 §2.1.1)."""

NodeID = tuple[int, int]
"""``(level, index)`` of a perfect subtree covering leaves ``[index << level, (index + 1) << level)``."""

GetNodes = Callable[[Sequence[NodeID]], Sequence[bytes]]
"""Fetches the hashes of many perfect nodes in one call, in the order asked."""

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class ProofError(ValueError):
    """A proof or its parameters are invalid, or the proof does not verify."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = HASH(0x00 || d) (RFC 9162 §2.1.1)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """HASH(0x01 || left || right): the hash of an interior node (RFC 9162 §2.1.1)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


# --------------------------------------------------------------------------- ranges of nodes


def range_node_ids(begin: int, end: int) -> list[NodeID]:
    """The perfect subtrees that exactly cover leaves ``[begin, end)``, left to right.

    This is the minimal decomposition used by compact ranges (transparency-dev/merkle
    ``compact.RangeNodes``): each node is the largest aligned perfect subtree that starts at the
    current position and fits in the range.
    """
    if not 0 <= begin <= end:
        raise ValueError(f"invalid range [{begin}, {end})")
    ids: list[NodeID] = []
    while begin < end:
        level = (begin & -begin).bit_length() - 1 if begin else (end - begin).bit_length() - 1
        while begin + (1 << level) > end:
            level -= 1
        ids.append((level, begin >> level))
        begin += 1 << level
    return ids


def compact_range_node_ids(size: int) -> list[NodeID]:
    """The perfect nodes of the right frontier of a tree of ``size`` leaves, left to right.

    One node per set bit of ``size``, by decreasing level; these are what ``CompactRange``
    holds, so a server can rebuild the frontier after a restart by fetching them.
    """
    if size < 0:
        raise ValueError("size must be non-negative")
    return range_node_ids(0, size)


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    """Root of adjacent perfect subtrees given left to right with decreasing sizes."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = _sha256(_NODE_PREFIX + h + root).digest()
    return root


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes")


# --------------------------------------------------------------------------- compact range


class CompactRange:
    """The right frontier of a tree: one perfect-subtree hash per set bit of its size.

    ``append`` folds a new leaf in and reports every perfect node that became complete, so the
    server stores exactly those (this is how tessera / transparency-dev integrate entries).
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_hashes(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Rebuild a frontier from the hashes of ``compact_range_node_ids(size)``, in that order."""
        if size < 0:
            raise ValueError("size must be non-negative")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a tree of size {size} needs {size.bit_count()} hashes, got {len(hashes)}")
        for h in hashes:
            if len(h) != HASH_SIZE:
                raise ValueError(f"frontier hashes must be {HASH_SIZE} bytes")
        rng = cls()
        rng._size = size
        rng._hashes = [bytes(h) for h in hashes]
        return rng

    @property
    def size(self) -> int:
        """Number of leaves folded in so far."""
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """The frontier hashes, left to right (a copy; serialisable as is)."""
        return list(self._hashes)

    def node_ids(self) -> list[NodeID]:
        """The NodeIDs of ``hashes``."""
        return compact_range_node_ids(self._size)

    def append(self, leaf: bytes) -> list[tuple[NodeID, bytes]]:
        """Add one leaf hash; return every perfect node it completed, the leaf (level 0) first."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
        index = self._size
        stack = self._hashes
        completed: list[tuple[NodeID, bytes]] = [((0, index), leaf)]
        h = leaf
        level = 0
        # A node with an odd index is a right child: its left sibling is the top of the frontier.
        while index & 1:
            h = _sha256(_NODE_PREFIX + stack.pop() + h).digest()
            level += 1
            index >>= 1
            completed.append(((level, index), h))
        stack.append(h)
        self._size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> list[tuple[NodeID, bytes]]:
        """Append many leaf hashes; return all the perfect nodes they completed."""
        completed: list[tuple[NodeID, bytes]] = []
        for leaf in leaves:
            completed.extend(self.append(leaf))
        return completed

    def root(self) -> bytes:
        """MTH of the tree of ``size`` leaves (RFC 9162 §2.1.1)."""
        return _fold_right(self._hashes)

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size})"


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes, level by level (RFC 9162 §2.1.1).

    Pairing adjacent nodes and carrying an odd last node up unchanged gives the same tree as the
    RFC's split at the largest power of two, without recursion: about one SHA-256 call per leaf.
    """
    if not hashes:
        return EMPTY_ROOT
    level: list[bytes] = list(hashes)
    sha = _sha256
    prefix = _NODE_PREFIX
    while len(level) > 1:
        it = iter(level)
        nxt = [sha(prefix + a + b).digest() for a, b in zip(it, it, strict=False)]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root_at(size: int, get_nodes: GetNodes) -> bytes:
    """MTH of the tree of ``size`` leaves from its stored perfect nodes (one ``get_nodes`` call)."""
    ids = compact_range_node_ids(size)
    if not ids:
        return EMPTY_ROOT
    return _fold_right(_fetch(ids, get_nodes))


# --------------------------------------------------------------------------- proof plans


@dataclass(frozen=True, slots=True)
class ProofPlan:
    """The perfect nodes a proof needs and how to turn their hashes into the proof.

    ``ids[begin:end]`` (possibly empty) are the perfect nodes under the *ephemeral* node
    ``ephem``, ordered right to left; ``rehash`` folds them into that node's hash. All other
    hashes are proof entries as they are. Mirrors transparency-dev/merkle ``proof.Nodes``.
    """

    ids: tuple[NodeID, ...]
    begin: int = 0
    end: int = 0
    ephem: NodeID | None = None

    def rehash(self, hashes: Sequence[bytes]) -> list[bytes]:
        """Turn the hashes of ``ids`` (same order) into the RFC 9162 proof."""
        if len(hashes) != len(self.ids):
            raise ProofError(f"got {len(hashes)} hashes, expected {len(self.ids)}")
        out = list(hashes[: self.begin])
        if self.begin < self.end:
            h = hashes[self.begin]
            for left in hashes[self.begin + 1 : self.end]:
                h = node_hash(left, h)
            out.append(h)
        out.extend(hashes[self.end :])
        return out

    def _skip_first(self) -> ProofPlan:
        if self.begin < self.end:
            return ProofPlan(self.ids[1:], self.begin - 1, self.end - 1, self.ephem)
        return ProofPlan(self.ids[1:], 0, 0, self.ephem)


def _plan_for_node(level: int, index: int, size: int) -> ProofPlan:
    """Nodes proving perfect node (level, index) is in the tree of ``size``; the node itself first.

    The *fork* is where the path from the root to the node leaves the path to the right edge of
    the tree. Below it the proof holds the node's siblings; the fork's sibling is ephemeral
    (covers ``[end, size)``); above it every sibling is a perfect node left of ``begin``.
    """
    inner = (index ^ (size >> level)).bit_length() - 1
    fork_level, fork_index = level + inner, index >> inner
    begin, end = fork_index << fork_level, (fork_index + 1) << fork_level

    ids: list[NodeID] = [(level, index)]
    lvl, idx = level, index
    while lvl < fork_level:
        ids.append((lvl, idx ^ 1))
        lvl, idx = lvl + 1, idx >> 1
    eph_begin = len(ids)
    ids.extend(reversed(range_node_ids(end, size)))  # rightmost (smallest) first, for rehash
    eph_end = len(ids)
    ids.extend(reversed(range_node_ids(0, begin)))  # nearest the fork first
    if eph_begin >= eph_end:
        eph_begin = eph_end = 0
    return ProofPlan(tuple(ids), eph_begin, eph_end, (fork_level, fork_index ^ 1))


def inclusion_proof_plan(index: int, size: int) -> ProofPlan:
    """Plan for the inclusion proof of leaf ``index`` in the tree of ``size`` (RFC 9162 §2.1.3.1)."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is out of range for tree size {size}")
    return _plan_for_node(0, index, size)._skip_first()


def consistency_proof_plan(first: int, second: int) -> ProofPlan:
    """Plan for the consistency proof between tree sizes ``first`` and ``second`` (RFC 9162 §2.1.4.1).

    The proof is the largest perfect subtree ending at ``first`` (omitted when ``first`` is a
    power of two: the verifier has it as its old root) followed by its inclusion path in the
    tree of ``second``.
    """
    if not 0 <= first <= second:
        raise ProofError(f"invalid consistency range {first} -> {second}")
    if first == 0 or first == second:
        return ProofPlan(())
    level = (first & -first).bit_length() - 1
    index = (first - 1) >> level
    plan = _plan_for_node(level, index, second)
    return plan._skip_first() if index == 0 else plan


def _fetch(ids: Sequence[NodeID], get_nodes: GetNodes) -> list[bytes]:
    hashes = list(get_nodes(ids))
    if len(hashes) != len(ids):
        raise ValueError(f"get_nodes returned {len(hashes)} hashes for {len(ids)} nodes")
    for h in hashes:
        if len(h) != HASH_SIZE:
            raise ValueError(f"get_nodes returned a hash that is not {HASH_SIZE} bytes")
    return hashes


def _run_plan(plan: ProofPlan, get_nodes: GetNodes) -> list[bytes]:
    if not plan.ids:
        return []
    return plan.rehash(_fetch(plan.ids, get_nodes))


def inclusion_proof(index: int, size: int, get_nodes: GetNodes) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1, from stored perfect nodes in one fetch."""
    return _run_plan(inclusion_proof_plan(index, size), get_nodes)


def consistency_proof(first: int, second: int, get_nodes: GetNodes) -> list[bytes]:
    """PROOF(first, D[second]) of RFC 9162 §2.1.4.1, from stored perfect nodes in one fetch."""
    return _run_plan(consistency_proof_plan(first, second), get_nodes)


# --------------------------------------------------------------------------- verification


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion proof: steps 1-4 of RFC 9162 §2.1.3.2.

    Raises ``ProofError`` when the proof has the wrong length for ``(index, size)``.
    """
    if not 0 <= index < size:
        raise ProofError(f"index {index} is out of range for tree size {size}")
    _check_hash(leaf, "leaf hash")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        _check_hash(p, "proof hash")
        if sn == 0:
            raise ProofError(f"inclusion proof is too long for index {index} in size {size}")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof is too short for index {index} in size {size}")
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` (a leaf hash) is at ``index`` in the tree of ``size`` with ``root``.

    RFC 9162 §2.1.3.2. Raises ``ProofError`` if not.
    """
    _check_hash(root, "root hash")
    if root_from_inclusion_proof(leaf, index, size, proof) != root:
        raise ProofError(f"inclusion proof for index {index} does not lead to the root of size {size}")


def verify_consistency(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes
) -> None:
    """Check that the tree of ``second`` leaves extends the tree of ``first`` leaves.

    RFC 9162 §2.1.4.2, plus the cases the RFC leaves implicit: ``first == second`` needs an
    empty proof and equal roots; ``first == 0`` needs an empty proof and the empty root.
    Raises ``ProofError`` if not.
    """
    _check_hash(first_root, "first root")
    _check_hash(second_root, "second root")
    for p in proof:
        _check_hash(p, "proof hash")
    if not 0 <= first <= second:
        raise ProofError(f"invalid consistency range {first} -> {second}")
    if first == second or first == 0:
        _verify_trivial_consistency(first, second, proof, first_root, second_root)
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    fr, sr = _roots_from_consistency_proof(first, second, proof, first_root)
    if fr != first_root:
        raise ProofError(f"consistency proof does not lead to the root of size {first}")
    if sr != second_root:
        raise ProofError(f"consistency proof does not lead to the root of size {second}")


def _verify_trivial_consistency(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes
) -> None:
    if proof:
        raise ProofError(f"consistency proof from size {first} to {second} must be empty")
    if first == 0 and first_root != EMPTY_ROOT:
        raise ProofError("the root of the empty tree must be SHA-256 of the empty string")
    if first == second and first_root != second_root:
        raise ProofError(f"two different roots for the same size {first}")


def _roots_from_consistency_proof(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes
) -> tuple[bytes, bytes]:
    """Steps 2-6 of RFC 9162 §2.1.4.2 for 0 < first < second; returns (fr, sr)."""
    path = list(proof)
    if first & (first - 1) == 0:  # first is an exact power of two
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof from size {first} to {second} is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"consistency proof from size {first} to {second} is too short")
    return fr, sr
