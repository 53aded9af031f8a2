"""Queries of the log. Hot paths (sequencing, integration, proofs, tiles) use Core statements.

Every function runs in the caller's session and transaction; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import TextClause, bindparam, select, text, update
from sqlalchemy.orm import Session

from app.db import Prepared, Read, insert_rows, update_rows
from app.log.models import (
    LogCheckpoint,
    LogCosignature,
    LogLeaf,
    LogNode,
    LogSequence,
    LogTreeHead,
    LogWitness,
)

__all__ = [
    "ALLOCATION_CTES",
    "TreeHead",
    "allocation",
    "allocated",
    "insert_leaves",
    "next_index",
    "tree_head",
    "lock_tree_head",
    "set_tree_head",
    "pending_leaf_hashes",
    "get_nodes",
    "get_nodes_in_ranges",
    "insert_nodes",
    "node_hashes_in_range",
    "leaf_index",
    "leaves_in_range",
    "leaf_datas_in_range",
    "insert_checkpoint",
    "latest_checkpoint",
    "checkpoint_at",
    "has_checkpoint",
    "cosignature_lines",
    "get_witness",
    "list_witnesses",
    "add_witness",
    "get_cosignature",
    "newest_cosignature",
    "add_cosignature",
]

_SINGLETON = 1
_leaves = LogLeaf.__table__
_nodes = LogNode.__table__
_sequence = LogSequence.__table__
_head = LogTreeHead.__table__
_checkpoints = LogCheckpoint.__table__
_cosignatures = LogCosignature.__table__

# Statements that every submission batch runs, built once (see ``app.documents.repository``).
_ALLOCATE = (
    update(_sequence)
    .where(_sequence.c.id == _SINGLETON)
    .values(next_index=_sequence.c.next_index + bindparam("count"))
    .returning(_sequence.c.next_index)
)
_LOCK_HEAD = (
    select(_head.c.size, _head.c.root_hash, _head.c.frontier)
    .where(_head.c.id == _SINGLETON)
    .with_for_update()
)
_PENDING = (
    select(_leaves.c.idx, _leaves.c.leaf_hash)
    .where(_leaves.c.idx >= bindparam("start"))
    .order_by(_leaves.c.idx)
    .limit(bindparam("limit"))
)

# ---------------------------------------------------------------- sequencing


ALLOCATION_CTES = (
    "head AS MATERIALIZED ("
    " SELECT size, root_hash, frontier FROM log_tree_head WHERE id = :log_head FOR UPDATE),"
    " leaves AS ("
    " UPDATE log_sequence SET next_index = log_sequence.next_index + :leaves FROM head"
    " WHERE log_sequence.id = :log_head"
    " RETURNING log_sequence.next_index, head.size, head.root_hash, head.frontier)"
)
"""PostgreSQL: the allocation of ``:leaves`` indexes as two CTEs, ``head`` and ``leaves`` (the
rows ``allocated`` reads), for a statement that takes other counters after it
(``documents.repository.counters_read``). The head's row lock first (when the MATERIALIZED
CTE's row is read), then the counter's (when the UPDATE writes the joined row). Every other
path takes one of the two only."""
_ALLOCATE_LOCKING_HEAD = text(f"WITH {ALLOCATION_CTES} SELECT * FROM leaves")  # noqa: S608 - constant SQL
# Sent through the driver (``app.db.Prepared``): every submission batch runs one, under the lock.
_ALLOCATE_DRIVER = Prepared(_ALLOCATE)
_ALLOCATE_LOCKING_HEAD_DRIVER = Prepared(_ALLOCATE_LOCKING_HEAD)

TreeHead = tuple[int, bytes, bytes | None]
"""``(size, root_hash, frontier)`` of the tree head row."""


def allocation(count: int, *, lock_head: bool) -> Read:
    """The ``UPDATE ... RETURNING`` that reserves ``count`` consecutive indexes, for ``read_together``.

    It row-locks the counter until the transaction ends, so a second writer waits and the
    committed leaves always form a contiguous prefix. ``lock_head`` (PostgreSQL only): the same
    statement also locks and reads the tree head, for a transaction that sequences and then
    integrates -- the head would be locked a moment later anyway, and each round trip inside the
    counter's lock delays every other writer. ``allocated`` reads its rows.
    """
    if lock_head:
        return _ALLOCATE_LOCKING_HEAD_DRIVER(leaves=count, log_head=_SINGLETON)
    return _ALLOCATE_DRIVER(count=count)


def allocated(rows: Sequence[Mapping[str, Any]], count: int) -> tuple[int, TreeHead | None]:
    """The first index that ``allocation(count)`` reserved, and the tree head if it locked it."""
    [row] = rows
    start = int(row["next_index"]) - count
    if "size" not in row:
        return start, None
    frontier = None if row["frontier"] is None else bytes(row["frontier"])
    return start, (int(row["size"]), bytes(row["root_hash"]), frontier)


def insert_leaves(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert leaves (``idx``, ``leaf_hash``, ``leaf_data``, ``integrated_time``) as few statements as the database wants."""
    insert_rows(session, _leaves, rows)


def sequenced_and_integrated(session: Session) -> tuple[int, int]:
    """``(next_index, size)``: leaves sequenced, leaves covered by the tree head, in one read."""
    sequenced = select(_sequence.c.next_index).where(_sequence.c.id == _SINGLETON).scalar_subquery()
    size = select(_head.c.size).where(_head.c.id == _SINGLETON).scalar_subquery()
    row = session.execute(select(sequenced, size)).one()
    return int(row[0]), int(row[1])


def next_index(session: Session) -> int:
    """The index the next sequenced leaf will get (= number of leaves committed or in flight)."""
    return int(
        session.execute(select(_sequence.c.next_index).where(_sequence.c.id == _SINGLETON)).scalar_one()
    )


# ---------------------------------------------------------------- integration state


def tree_head(session: Session) -> tuple[int, bytes]:
    """``(size, root_hash)`` of the integrated tree, without locking."""
    row = session.execute(select(_head.c.size, _head.c.root_hash).where(_head.c.id == _SINGLETON)).one()
    return int(row.size), bytes(row.root_hash)


def lock_tree_head(session: Session) -> TreeHead:
    """``(size, root_hash, frontier)`` with the head row locked (``FOR UPDATE``) until the transaction ends.

    This lock is what makes integration single-file across processes on PostgreSQL. On SQLite
    the writer's ``BEGIN IMMEDIATE`` already holds the database lock (``FOR UPDATE`` is omitted).
    ``frontier`` is the concatenated compact-range hashes, or ``None`` if never stored.
    """
    row = session.execute(_LOCK_HEAD).one()
    return int(row.size), bytes(row.root_hash), None if row.frontier is None else bytes(row.frontier)


def set_tree_head(session: Session, size: int, root_hash: bytes, frontier: bytes | None = None) -> None:
    """Advance the head; inside ``inserts_deferred`` with the block's one statement (no round trip)."""
    update_rows(
        session, _head, [{"id": _SINGLETON, "size": size, "root_hash": root_hash, "frontier": frontier}]
    )


def pending_leaf_hashes(session: Session, start: int, limit: int) -> list[tuple[int, bytes]]:
    """``(idx, leaf_hash)`` of the leaves at ``start`` and after, in index order, at most ``limit``."""
    rows = session.execute(_PENDING, {"start": start, "limit": limit})
    return [(int(i), bytes(h)) for i, h in rows]


# ---------------------------------------------------------------- nodes


@lru_cache(maxsize=256)
def _nodes_query(count: int) -> TextClause:
    """``SELECT ... WHERE (level = :l0 AND idx = :i0) OR ...`` for ``count`` nodes, built once."""
    terms = " OR ".join(f"(level = :l{n} AND idx = :i{n})" for n in range(count))
    return text(f"SELECT level, idx, hash FROM log_nodes WHERE {terms}")  # noqa: S608 - no user text


@lru_cache(maxsize=64)
def _node_ranges_query(count: int) -> TextClause:
    """``SELECT ... WHERE (level = :l0 AND idx BETWEEN :a0 AND :b0) OR ...`` for ``count`` levels."""
    terms = " OR ".join(f"(level = :l{n} AND idx BETWEEN :a{n} AND :b{n})" for n in range(count))
    return text(f"SELECT level, idx, hash FROM log_nodes WHERE {terms}")  # noqa: S608 - no user text


def get_nodes_in_ranges(session: Session, ids: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Like ``get_nodes``, for many proofs at once: one index range per level covers every id.

    The receipts of a batch need the nodes around a run of consecutive leaves, so a range per
    level fetches few extra rows, and the statement has one term per level of the tree (at most
    64), which keeps it among SQLAlchemy's compiled statements instead of compiling one per
    node count. Ids outside ``ids`` that the ranges return are left out.
    """
    ranges: dict[int, tuple[int, int]] = {}
    for level, idx in ids:
        low, high = ranges.get(level, (idx, idx))
        ranges[level] = (min(low, idx), max(high, idx))
    if not ranges:
        return {}
    params: dict[str, int] = {}
    for n, (level, (low, high)) in enumerate(sorted(ranges.items())):
        params[f"l{n}"], params[f"a{n}"], params[f"b{n}"] = level, low, high
    wanted = set(ids)
    rows = session.execute(_node_ranges_query(len(ranges)), params)
    return {key: bytes(h) for level, idx, h in rows if (key := (int(level), int(idx))) in wanted}


def get_nodes(session: Session, ids: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored hashes of perfect nodes ``(level, idx)``; missing ones are absent from the dict.

    One query of ``(level = ? AND idx = ?)`` terms joined by OR, each answered from the primary
    key on both databases (a row-value ``(level, idx) IN (...)`` makes SQLite scan the table).
    The statement text is cached per length: building it with the expression language cost
    more than running it. Meant for the O(log n) nodes of a proof or a frontier.
    """
    unique = list(dict.fromkeys(ids))
    if not unique:
        return {}
    params: dict[str, int] = {}
    for n, (level, idx) in enumerate(unique):
        params[f"l{n}"] = level
        params[f"i{n}"] = idx
    rows = session.execute(_nodes_query(len(unique)), params)
    return {(int(level), int(idx)): bytes(h) for level, idx, h in rows}


def insert_nodes(session: Session, nodes: Iterable[tuple[tuple[int, int], bytes]]) -> None:
    """Insert perfect nodes ``((level, idx), hash)`` as few statements as the database wants."""
    insert_rows(session, _nodes, [{"level": level, "idx": idx, "hash": h} for (level, idx), h in nodes])


def node_hashes_in_range(session: Session, level: int, start: int, end: int) -> list[bytes]:
    """Hashes of nodes ``(level, start) .. (level, end - 1)`` in order (a tile is one such range)."""
    rows = session.execute(
        select(_nodes.c.hash)
        .where(_nodes.c.level == level, _nodes.c.idx >= start, _nodes.c.idx < end)
        .order_by(_nodes.c.idx)
    )
    return [bytes(h) for (h,) in rows]


# ---------------------------------------------------------------- leaves


def leaf_index(session: Session, leaf_hash: bytes) -> int | None:
    idx = session.execute(select(_leaves.c.idx).where(_leaves.c.leaf_hash == leaf_hash)).scalar_one_or_none()
    return None if idx is None else int(idx)


def leaves_in_range(session: Session, start: int, end: int) -> list[tuple[int, bytes, bytes, datetime]]:
    """``(idx, leaf_hash, leaf_data, integrated_time)`` of leaves ``[start, end)`` in order."""
    rows = session.execute(
        select(LogLeaf.idx, LogLeaf.leaf_hash, LogLeaf.leaf_data, LogLeaf.integrated_time)
        .where(LogLeaf.idx >= start, LogLeaf.idx < end)
        .order_by(LogLeaf.idx)
    )
    return [(int(i), bytes(h), bytes(d), t) for i, h, d, t in rows]


def leaf_datas_in_range(session: Session, start: int, end: int) -> list[bytes]:
    rows = session.execute(
        select(_leaves.c.leaf_data).where(_leaves.c.idx >= start, _leaves.c.idx < end).order_by(_leaves.c.idx)
    )
    return [bytes(d) for (d,) in rows]


# ---------------------------------------------------------------- checkpoints


def insert_checkpoint(session: Session, size: int, root_hash: bytes, note: str, created_at: datetime) -> None:
    insert_rows(
        session,
        _checkpoints,
        [{"size": size, "root_hash": root_hash, "note": note, "created_at": created_at}],
    )


def latest_checkpoint(session: Session) -> LogCheckpoint | None:
    return session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1)).first()


def has_checkpoint(session: Session, size: int) -> bool:
    """Whether a checkpoint of ``size`` was published (a primary-key probe, no row loaded)."""
    return session.execute(select(_checkpoints.c.size).where(_checkpoints.c.size == size)).first() is not None


def checkpoint_at(session: Session, size: int) -> LogCheckpoint | None:
    return session.get(LogCheckpoint, size)


def cosignature_lines(session: Session, size: int) -> list[str]:
    """Stored cosignature lines of the checkpoint of ``size``, by witness name."""
    rows = session.execute(
        select(_cosignatures.c.signature_line)
        .where(_cosignatures.c.checkpoint_size == size)
        .order_by(_cosignatures.c.witness_name)
    )
    return [line for (line,) in rows]


# ---------------------------------------------------------------- witnesses


def get_witness(session: Session, name: str) -> LogWitness | None:
    return session.get(LogWitness, name)


def list_witnesses(session: Session) -> list[LogWitness]:
    return list(session.scalars(select(LogWitness).order_by(LogWitness.name)))


def add_witness(session: Session, witness: LogWitness) -> None:
    session.add(witness)
    session.flush()


def get_cosignature(session: Session, witness_name: str, size: int) -> LogCosignature | None:
    return session.get(LogCosignature, (witness_name, size))


def newest_cosignature(session: Session, witness_name: str) -> LogCosignature | None:
    """The witness's cosignature on the largest checkpoint it has cosigned."""
    return session.scalars(
        select(LogCosignature)
        .where(LogCosignature.witness_name == witness_name)
        .order_by(LogCosignature.checkpoint_size.desc())
        .limit(1)
    ).first()


def add_cosignature(session: Session, cosignature: LogCosignature) -> None:
    session.add(cosignature)
    session.flush()
