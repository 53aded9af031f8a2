"""The transparency log (contract §6): sequencing, integration, checkpoints, proofs, entries and tiles.

Sequencing and integration are separate steps, as in transparency-dev/tessera:

- ``sequence_many`` gives leaves durable, contiguous indexes inside the caller's transaction;
- ``integrate`` folds the pending leaves into the tree (storing every new perfect node), signs a
  C2SP tlog-checkpoint with the log key and advances the tree head.

Both run in the caller's transaction and never commit. The Merkle math is the pure core's
(``lnx_client.core.merkle``); this module only feeds it stored nodes, one query per proof.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lnx_client.core import merkle, note, tiles
from lnx_client.core.checkpoint import Checkpoint, parse_checkpoint
from lnx_client.core.tlogproof import format_tlog_proofs
from sqlalchemy.orm import Session

from app.db import Read, is_postgres, read_together, utcnow
from app.errors import BadRequest, NotFound, ServiceUnavailable
from app.log import repository
from app.log.models import LogCheckpoint

__all__ = [
    "MAX_INDEX",
    "DEFAULT_INTEGRATE_BATCH",
    "ENTRIES_PAGE_MAX",
    "CheckpointRecord",
    "InclusionProof",
    "ConsistencyProof",
    "LogEntry",
    "LogCorrupt",
    "LogKeyMismatch",
    "NotIntegrated",
    "sequence_many",
    "allocation",
    "sequence_allocated",
    "integrate",
    "integrate_step",
    "Integration",
    "ensure_checkpoint",
    "check_log_key",
    "tree_size",
    "pending_count",
    "integration_state",
    "latest_checkpoint",
    "checkpoint_text",
    "inclusion_proof",
    "proof_by_leaf_hash",
    "consistency_proof",
    "receipt_proof",
    "entries",
    "tile",
    "entry_bundle",
    "tile_exists",
]

MAX_INDEX = 2**63 - 1
"""Largest index or size the database columns (signed 64-bit) can hold."""

DEFAULT_INTEGRATE_BATCH = 10_000
"""Most leaves one ``integrate`` call folds in; a backlog takes several calls (and checkpoints)."""

ENTRIES_PAGE_MAX = 1000
"""Most entries one ``entries`` call returns."""


class LogCorrupt(RuntimeError):
    """Stored nodes contradict the tree head: the log refuses to sign anything on top of them."""


class LogKeyMismatch(RuntimeError):
    """The configured key or origin is not the one the log's checkpoints were signed with."""


class NotIntegrated(ServiceUnavailable):
    """No signed checkpoint covers the entry yet (integration is behind); retry shortly."""

    code = "log-not-integrated"


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    """A signed checkpoint: ``note`` carries the log's signature only (cosignatures are separate)."""

    size: int
    root_hash: bytes
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class InclusionProof:
    index: int
    size: int
    leaf_hash: bytes
    hashes: list[bytes]
    checkpoint: str | None = None


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    first: int
    second: int
    hashes: list[bytes]


@dataclass(frozen=True, slots=True)
class LogEntry:
    index: int
    leaf_hash: bytes
    leaf_data: bytes
    integrated_time: datetime


# ---------------------------------------------------------------- sequencing and integration


def sequence_many(
    session: Session, leaf_datas: Sequence[bytes], integrated_time: datetime
) -> list[tuple[int, bytes]]:
    """Give each leaf the next index, in order; return ``(index, leaf_hash)`` per leaf.

    The counter row stays locked until the caller's transaction ends, so concurrent writers queue
    here and committed leaves always form a contiguous prefix of the log.
    """
    if not leaf_datas:
        return []
    hashes = [merkle.leaf_hash(data) for data in leaf_datas]  # before the lock, which others wait for
    [allocated] = read_together(session, [allocation(session, len(leaf_datas))])
    return sequence_allocated(session, leaf_datas, allocated, integrated_time, hashes=hashes)


def allocation(session: Session, count: int) -> Read:
    """The statement that reserves ``count`` consecutive indexes, for ``read_together``.

    For a caller that takes other counters in the same transaction and sends them along (on
    SQLite a submission batch runs this and the feed's; on PostgreSQL it runs one statement for
    both, ``documents.repository.counters_read``). On PostgreSQL it also locks and reads the
    tree head (the integration of the caller's leaves follows in the same transaction). Its
    rows, or any rows with the same columns, go to ``sequence_allocated``.
    """
    return repository.allocation(count, lock_head=is_postgres(session))


def sequence_allocated(
    session: Session,
    leaf_datas: Sequence[bytes],
    allocated: Sequence[Mapping[str, Any]],
    integrated_time: datetime,
    *,
    hashes: Sequence[bytes],
) -> list[tuple[int, bytes]]:
    """``sequence_many`` once ``allocation(session, len(leaf_datas))`` has run: its rows in
    ``allocated``, the leaves' hashes in ``hashes`` (computed before the counter's lock)."""
    start, head = repository.allocated(allocated, len(leaf_datas))
    if head is not None:
        session.info[_LOCKED_HEAD] = (_innermost_transaction(session), head)
    out: list[tuple[int, bytes]] = []
    rows = []
    for offset, (data, h) in enumerate(zip(leaf_datas, hashes, strict=True)):
        out.append((start + offset, h))
        rows.append(
            {"idx": start + offset, "leaf_hash": h, "leaf_data": data, "integrated_time": integrated_time}
        )
    repository.insert_leaves(session, rows)
    return out


_LOCKED_HEAD = "lnx_log_locked_head"
"""``session.info`` key: (the transaction, the tree head) that ``sequence_many`` locked and read."""


def _lock_tree_head(session: Session) -> repository.TreeHead:
    """The tree head, locked: as ``sequence_many`` read it in this transaction, or read now.

    On PostgreSQL, sequencing locks the head in the same statement as the counter (the
    integration of a submission batch follows in the same transaction). What it read is still
    the head while this transaction holds the lock and has not advanced it: the kept head is
    taken once (popped), and a head kept by another transaction or SAVEPOINT is never used.
    """
    kept = session.info.pop(_LOCKED_HEAD, None)
    if kept is not None and kept[0] is _innermost_transaction(session):
        return kept[1]
    return repository.lock_tree_head(session)


def _innermost_transaction(session: Session) -> object:
    """A SAVEPOINT rolled back releases the row locks taken within it: the lock is known to be
    held only while the very (sub)transaction that took it is the current one."""
    return session.get_nested_transaction() or session.get_transaction()


def _node_getter(session: Session) -> merkle.GetNodes:
    def get_nodes(ids: Sequence[merkle.NodeID]) -> list[bytes]:
        found = repository.get_nodes(session, ids)
        missing = [i for i in ids if i not in found]
        if missing:
            raise LogCorrupt(f"perfect nodes missing from storage: {missing[:4]}")
        return [found[i] for i in ids]

    return get_nodes


def _frontier(session: Session, size: int, root: bytes, stored: bytes | None) -> merkle.CompactRange:
    """The compact range of the tree head: from the head row, or read from the nodes if it has none."""
    count = size.bit_count()
    if stored is not None and len(stored) == count * merkle.HASH_SIZE:
        hashes = [stored[i : i + merkle.HASH_SIZE] for i in range(0, len(stored), merkle.HASH_SIZE)]
        source = "the tree head's frontier"
    else:
        hashes = _node_getter(session)(merkle.compact_range_node_ids(size))
        source = "stored nodes"
    frontier = merkle.CompactRange.from_hashes(size, hashes)
    if frontier.root() != root:
        raise LogCorrupt(f"{source} do not hash to the tree head of size {size}")
    return frontier


def _frontier_bytes(frontier: merkle.CompactRange) -> bytes:
    return b"".join(frontier.hashes)


def _sign(origin: str, signer: note.NoteSigner, size: int, root: bytes) -> str:
    return note.sign_note(Checkpoint(origin, size, root).to_text(), signer)


@dataclass(frozen=True, slots=True)
class Integration:
    """One integration step: the checkpoint it signed, and the nodes it had in hand.

    ``nodes`` are the frontier the step started from and every perfect node it completed. They
    are all an inclusion proof of a newly integrated entry (``first <= index < record.size``)
    needs against ``record``: the proof's right-hand siblings lie in the new part of the tree,
    and each left-hand sibling is either a frontier node (when it ends at or before ``first``)
    or was completed by this step. So the submission batch that integrates its own entries
    proves them without reading anything back (``proofs``).
    """

    record: CheckpointRecord
    first: int
    nodes: dict[merkle.NodeID, bytes]

    def covers(self, index: int) -> bool:
        return self.first <= index < self.record.size

    def proofs(self, indexes: Iterable[int]) -> dict[int, str]:
        """tlog-proof texts of newly integrated entries against this step's checkpoint."""
        nodes = self.nodes
        size, note_text = self.record.size, self.record.note  # a new checkpoint has no cosignatures yet
        entries = []
        for index in indexes:
            if not self.covers(index):
                raise ValueError(f"entry {index} was not integrated by this step")
            entries.append((index, merkle.inclusion_proof(index, size, lambda ids: [nodes[i] for i in ids])))
        return dict(zip((index for index, _ in entries), format_tlog_proofs(entries, note_text), strict=True))


def integrate(
    session: Session,
    signer: note.NoteSigner,
    origin: str,
    *,
    max_leaves: int = DEFAULT_INTEGRATE_BATCH,
    now: datetime | None = None,
) -> CheckpointRecord | None:
    """Fold pending leaves into the tree and sign a checkpoint; ``None`` when nothing is pending.

    The tree-head row lock makes this single-file across processes: a second integrator waits,
    then sees the new head and continues from it, so the log can never fork. The caller commits.
    """
    step = integrate_step(session, signer, origin, max_leaves=max_leaves, now=now)
    return step.record if step is not None else None


def integrate_step(
    session: Session,
    signer: note.NoteSigner,
    origin: str,
    *,
    max_leaves: int = DEFAULT_INTEGRATE_BATCH,
    now: datetime | None = None,
    sequenced: tuple[int, Sequence[bytes]] | None = None,
) -> Integration | None:
    """``integrate``, returning the ``Integration`` (with what receipts need) instead of the record.

    ``sequenced`` = ``(first index, leaf hashes)`` that the caller's transaction has just
    sequenced. While the caller holds the sequence counter's lock, nothing can follow them; so
    they are the pending leaves from their first index on, and only older pending ones (if
    any) are read. The caller's own leaves may thus still be unwritten (``inserts_deferred``).
    """
    size, root, stored_frontier = _lock_tree_head(session)
    known: list[bytes] = []
    read_limit = max_leaves
    if (
        sequenced is not None
        and size <= sequenced[0]
        and sequenced[0] - size + len(sequenced[1]) <= max_leaves
    ):
        # Only leaves before the caller's (committed, never integrated: a crashed writer) are read.
        known, read_limit = list(sequenced[1]), sequenced[0] - size
    hashes: list[bytes] = []
    if read_limit:
        for expected, (idx, h) in enumerate(
            repository.pending_leaf_hashes(session, size, read_limit), start=size
        ):
            if idx != expected:  # cannot happen while the counter row serialises writers; never skip a gap
                break
            hashes.append(h)
    if known and len(hashes) == read_limit:
        hashes.extend(known)
    if not hashes:
        return None
    frontier = _frontier(session, size, root, stored_frontier)
    nodes = dict(zip(frontier.node_ids(), frontier.hashes, strict=True))
    completed = frontier.extend(hashes)
    repository.insert_nodes(session, completed)
    nodes.update(completed)
    new_size, new_root = frontier.size, frontier.root()
    signed = _sign(origin, signer, new_size, new_root)
    created_at = now or utcnow()
    repository.insert_checkpoint(session, new_size, new_root, signed, created_at)
    repository.set_tree_head(session, new_size, new_root, _frontier_bytes(frontier))
    return Integration(CheckpointRecord(new_size, new_root, signed, created_at), size, nodes)


def ensure_checkpoint(session: Session, signer: note.NoteSigner, origin: str) -> CheckpointRecord | None:
    """Sign the checkpoint of the current head if it has none (the size-0 one at first start)."""
    size, root, _ = _lock_tree_head(session)
    if repository.checkpoint_at(session, size) is not None:
        return None
    signed = _sign(origin, signer, size, root)
    created_at = utcnow()
    repository.insert_checkpoint(session, size, root, signed, created_at)
    return CheckpointRecord(size, root, signed, created_at)


def check_log_key(session: Session, verifier: note.NoteVerifier, origin: str) -> None:
    """Refuse a key or origin other than the one that signed the newest checkpoint."""
    latest = repository.latest_checkpoint(session)
    if latest is None:
        return
    try:
        note.open_note(latest.note, [verifier])
    except note.NoteError as exc:
        raise LogKeyMismatch(
            f"the log key {verifier.name} did not sign the checkpoint of size {latest.size}: "
            "is this the log's key file?"
        ) from exc
    found = parse_checkpoint(note.split_note(latest.note)[0]).origin
    if found != origin:
        raise LogKeyMismatch(f"the log's checkpoints have the origin {found!r}, not {origin!r}")


def tree_size(session: Session) -> int:
    """Size of the newest signed checkpoint (the integrated tree)."""
    return repository.tree_head(session)[0]


def pending_count(session: Session) -> int:
    """Leaves sequenced (committed or in flight) but not yet integrated."""
    return repository.next_index(session) - repository.tree_head(session)[0]


def integration_state(session: Session) -> tuple[int, int]:
    """``(tree size, leaves pending)`` in one read (the integrator's tick)."""
    sequenced, size = repository.sequenced_and_integrated(session)
    return size, sequenced - size


# ---------------------------------------------------------------- checkpoints


def _record(row: LogCheckpoint) -> CheckpointRecord:
    return CheckpointRecord(row.size, bytes(row.root_hash), row.note, row.created_at)


def latest_checkpoint(session: Session) -> CheckpointRecord:
    """The newest signed checkpoint (503 before the server has signed the first one)."""
    row = repository.latest_checkpoint(session)
    if row is None:
        raise ServiceUnavailable("the log has not signed its first checkpoint yet", code="log-not-ready")
    return _record(row)


def _checkpoint_of_size(session: Session, size: int) -> CheckpointRecord:
    row = repository.checkpoint_at(session, size)
    if row is None:
        raise NotFound(f"the log has published no checkpoint of size {size}", code="checkpoint-not-found")
    return _record(row)


def _require_published(session: Session, size: int) -> None:
    if not repository.has_checkpoint(session, size):
        raise NotFound(f"the log has published no checkpoint of size {size}", code="checkpoint-not-found")


def _with_cosignatures(session: Session, record: CheckpointRecord) -> str:
    lines = repository.cosignature_lines(session, record.size)
    return record.note + "".join(line + "\n" for line in lines)


def checkpoint_text(session: Session, size: int | None = None) -> str:
    """The signed checkpoint note (newest, or of ``size``) with every stored cosignature appended."""
    record = latest_checkpoint(session) if size is None else _checkpoint_of_size(session, size)
    return _with_cosignatures(session, record)


# ---------------------------------------------------------------- proofs


def _check_number(value: int, what: str) -> None:
    if not 0 <= value <= MAX_INDEX:
        raise BadRequest(f"{what} must be between 0 and 2^63-1", code="invalid-parameter")


def inclusion_proof(session: Session, index: int, size: int | None = None) -> InclusionProof:
    """RFC 9162 inclusion proof of leaf ``index`` in the published tree of ``size`` (default: newest).

    The leaf hash comes in the same node query as the proof (it is node ``(0, index)``). When
    ``size`` is omitted the proof carries the checkpoint it is against.
    """
    _check_number(index, "index")
    checkpoint: str | None = None
    if size is None:
        record = latest_checkpoint(session)
        if index >= record.size:
            raise NotFound(f"entry {index} is not in the log (size {record.size})", code="entry-not-found")
        size, checkpoint = record.size, _with_cosignatures(session, record)
    else:
        _check_number(size, "size")
        if index >= size:
            raise BadRequest(f"index {index} is not below size {size}", code="index-out-of-range")
        _require_published(session, size)
    plan = merkle.inclusion_proof_plan(index, size)
    hashes = _node_getter(session)([(0, index), *plan.ids])
    return InclusionProof(index, size, hashes[0], plan.rehash(hashes[1:]) if plan.ids else [], checkpoint)


def proof_by_leaf_hash(session: Session, leaf_hash: bytes, size: int | None = None) -> InclusionProof:
    """Inclusion proof of the leaf with this RFC 9162 leaf hash."""
    if len(leaf_hash) != merkle.HASH_SIZE:
        raise BadRequest("leaf_hash must be 32 bytes in hex", code="invalid-parameter")
    index = repository.leaf_index(session, leaf_hash)
    if index is None:
        raise NotFound("no entry has this leaf hash", code="entry-not-found")
    return inclusion_proof(session, index, size)


def consistency_proof(session: Session, first: int, second: int) -> ConsistencyProof:
    """RFC 9162 consistency proof between two published checkpoint sizes."""
    _check_number(first, "first")
    _check_number(second, "second")
    if first > second:
        raise BadRequest("first must not be above second", code="invalid-range")
    _require_published(session, first)
    _require_published(session, second)
    return ConsistencyProof(first, second, merkle.consistency_proof(first, second, _node_getter(session)))


def receipt_proof(session: Session, index: int) -> str:
    """``c2sp.org/tlog-proof@v1`` text proving entry ``index`` against the newest checkpoint.

    Raises ``NotIntegrated`` (503) if no checkpoint covers the entry yet: call
    ``lifecycle.wait_integrated`` (or ``integrate`` in the same transaction) first.
    """
    return receipt_proofs(session, [index])[index]


def receipt_proofs(session: Session, indexes: Iterable[int]) -> dict[int, str]:
    """Receipts for many entries against one checkpoint (the newest), by index.

    A submission batch gets its receipts here: the checkpoint and its cosignatures are read once,
    and the proofs' nodes, largely shared between neighbouring entries, in one range query.
    """
    record = latest_checkpoint(session)
    wanted = sorted(set(indexes))
    if not wanted:
        return {}
    if wanted[-1] >= record.size:
        raise NotIntegrated(f"entry {wanted[-1]} is not covered by a signed checkpoint yet")
    checkpoint = _with_cosignatures(session, record)
    plans = {index: merkle.inclusion_proof_plan(index, record.size) for index in wanted}
    node_ids = list(dict.fromkeys(node for plan in plans.values() for node in plan.ids))
    nodes = repository.get_nodes_in_ranges(session, node_ids)
    if len(nodes) != len(node_ids):
        missing = [i for i in node_ids if i not in nodes]
        raise LogCorrupt(f"perfect nodes missing from storage: {missing[:4]}")
    entries = [(index, plan.rehash([nodes[node] for node in plan.ids])) for index, plan in plans.items()]
    return dict(zip(plans, format_tlog_proofs(entries, checkpoint), strict=True))


# ---------------------------------------------------------------- entries and tiles


def entries(session: Session, start: int, end: int | None = None) -> list[LogEntry]:
    """Entries ``[start, end)`` covered by the newest checkpoint, at most ``ENTRIES_PAGE_MAX``.

    ``end`` is clamped to the page size and the tree size; a page shorter than asked means "ask
    again from the next index".
    """
    _check_number(start, "start")
    if end is not None:
        _check_number(end, "end")
        if end <= start:
            raise BadRequest("end must be above start", code="invalid-range")
    size = tree_size(session)
    if start >= size:
        raise NotFound(f"the log has {size} entries; start {start} is beyond them", code="entry-not-found")
    stop = min(size, start + ENTRIES_PAGE_MAX, end if end is not None else size)
    return [LogEntry(*row) for row in repository.leaves_in_range(session, start, stop)]


def tile_exists(size: int, level: int, index: int, width: int) -> bool:
    """Whether the tree of ``size`` has at least ``width`` hashes in tile ``(level, index)``."""
    merkle_level = level * tiles.TILE_HEIGHT
    if merkle_level >= 64:
        return False
    return index * tiles.TILE_WIDTH + width <= size >> merkle_level


def _require_tile(session: Session, level: int, index: int, width: int) -> None:
    size = tree_size(session)
    if not tile_exists(size, level, index, width):
        raise NotFound("the log has no such tile yet", code="tile-not-found")


def tile(session: Session, level: int, index: int, width: int) -> bytes:
    """C2SP tlog-tiles tile: ``width`` node hashes of Merkle level ``8 * level``, concatenated.

    A partial tile of width W is the first W hashes of its tile, so it is served whenever the
    tree has that many, even after the tile has filled up.
    """
    _require_tile(session, level, index, width)
    start = index * tiles.TILE_WIDTH
    hashes = repository.node_hashes_in_range(session, level * tiles.TILE_HEIGHT, start, start + width)
    if len(hashes) != width:
        raise LogCorrupt(f"tile {level}/{index} has {len(hashes)} of {width} hashes in storage")
    return b"".join(hashes)


def entry_bundle(session: Session, index: int, width: int) -> bytes:
    """C2SP tlog-tiles entry bundle: the leaf data of level-0 tile ``index``, length-prefixed."""
    _require_tile(session, 0, index, width)
    start = index * tiles.TILE_WIDTH
    datas = repository.leaf_datas_in_range(session, start, start + width)
    if len(datas) != width:
        raise LogCorrupt(f"entry bundle {index} has {len(datas)} of {width} entries in storage")
    return tiles.encode_entry_bundle(datas)
