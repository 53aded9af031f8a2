"""The feed's outbox: one event per accepted document (and per reminder), in commit order.

``seq`` is allocated under a row lock on ``feed_head`` inside the same transaction as the
event's document, so committed events always form a gap-free prefix: a reader that has seen
``seq = n`` can never later find a committed event below ``n`` (an autoincrement column would
allow that under concurrent transactions, and a cursor would then skip events).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime

__all__ = ["FeedEvent", "FeedHead"]


class FeedHead(Base):
    __tablename__ = "feed_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_seq: Mapped[int] = mapped_column(BigInteger)


class FeedEvent(Base):
    __tablename__ = "feed_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"), nullable=True)
    # For events that are not documents (reminders): the one participant they are addressed to.
    addressee: Mapped[str | None] = mapped_column(ForeignKey("participants.code"), nullable=True)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    issuer: Mapped[str | None] = mapped_column(String(16), nullable=True)
    regime: Mapped[str | None] = mapped_column(String(32), nullable=True)


Index("ix_feed_events_document", FeedEvent.document_id)
Index("ix_feed_events_addressee", FeedEvent.addressee, FeedEvent.seq)
