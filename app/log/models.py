"""Tables of the transparency log (contract §6). Rows are only ever inserted, except the two counters.

- ``log_leaves``: every sequenced entry, by index (the leaf data is public and reveals no content).
- ``log_nodes``: the hash of every *perfect* subtree ``(level, idx)``; a proof is one query of
  O(log n) rows and a tile is a range scan at level ``8 * L``.
- ``log_sequence``: the one-row counter that hands out leaf indexes (its row lock orders writers).
- ``log_tree_head``: the one-row integration state (size and root of the newest checkpoint);
  its row lock makes integration single-file across processes.
- ``log_checkpoints``: every signed checkpoint; the primary key on ``size`` means the log can
  never hold two checkpoints of one size.
- ``log_witnesses`` / ``log_cosignatures``: registered witness keys and the cosignatures they sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

__all__ = [
    "LogLeaf",
    "LogNode",
    "LogSequence",
    "LogTreeHead",
    "LogCheckpoint",
    "LogWitness",
    "LogCosignature",
]

# On SQLite an ``INTEGER PRIMARY KEY`` is the rowid itself: leaves are stored in index order and
# a range of entries is one b-tree walk, with no second index.
_Index = BigInteger().with_variant(Integer(), "sqlite")


class LogLeaf(Base):
    __tablename__ = "log_leaves"

    idx: Mapped[int] = mapped_column(_Index, primary_key=True, autoincrement=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    leaf_data: Mapped[bytes] = mapped_column(LargeBinary)
    integrated_time: Mapped[datetime] = mapped_column(UTCDateTime)


class LogNode(Base):
    """A perfect subtree hash: covers leaves ``[idx << level, (idx + 1) << level)``; never changes."""

    __tablename__ = "log_nodes"
    # WITHOUT ROWID: the table *is* its primary-key b-tree, so a node costs one row, not two.
    __table_args__ = {"sqlite_with_rowid": False}

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogSequence(Base):
    """The single row (``id = 1``) holding the next leaf index to hand out."""

    __tablename__ = "log_sequence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    next_index: Mapped[int] = mapped_column(BigInteger)


class LogTreeHead(Base):
    """The single row (``id = 1``) with the size and root the log has integrated and signed.

    ``frontier`` holds the tree's compact range (one 32-byte hash per set bit of ``size``, left
    to right), written with the nodes in the same transaction, so that the next integration
    starts from this one row instead of reading the frontier's nodes. ``NULL`` in a database
    written before it existed: the next integration then reads the nodes once.
    """

    __tablename__ = "log_tree_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    frontier: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class LogCheckpoint(Base):
    """A signed checkpoint (C2SP tlog-checkpoint note, signed by the log key only)."""

    __tablename__ = "log_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogWitness(Base):
    """A witness key (C2SP tlog-cosignature, type 0x04) allowed to cosign checkpoints."""

    __tablename__ = "log_witnesses"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    vkey: Mapped[str] = mapped_column(String(400))
    participant_code: Mapped[str | None] = mapped_column(ForeignKey("participants.code"), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogCosignature(Base):
    """One witness's cosignature line on one checkpoint (served appended to that checkpoint)."""

    __tablename__ = "log_cosignatures"

    witness_name: Mapped[str] = mapped_column(ForeignKey("log_witnesses.name"), primary_key=True)
    checkpoint_size: Mapped[int] = mapped_column(
        ForeignKey("log_checkpoints.size"), primary_key=True, index=True
    )
    timestamp: Mapped[int] = mapped_column(BigInteger)
    signature_line: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
