"""The feed's outbox: one event per accepted document (and per reminder), in commit order.

``seq`` is allocated under a row lock on ``feed_head`` inside the same transaction as the
event's document, so committed events always form a gap-free prefix: a reader that has seen
``seq = n`` can never later find a committed event below ``n`` (an autoincrement column would
allow that under concurrent transactions, and a cursor would then skip events).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, service_checked_key

__all__ = ["FeedEvent", "FeedHead", "Subscription", "Delivery", "DeliveryAttempt"]


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
    # Inserted in the statement that inserts the document (``app.db.service_checked_key``).
    document_id: Mapped[str | None] = mapped_column(service_checked_key("documents.id"), nullable=True)
    # For events that are not documents (reminders): the one participant they are addressed to.
    addressee: Mapped[str | None] = mapped_column(ForeignKey("participants.code"), nullable=True)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    issuer: Mapped[str | None] = mapped_column(String(16), nullable=True)
    regime: Mapped[str | None] = mapped_column(String(32), nullable=True)


Index("ix_feed_events_document", FeedEvent.document_id)
Index("ix_feed_events_addressee", FeedEvent.addressee, FeedEvent.seq)


class Subscription(Base):
    """A participant's webhook endpoint, its filters and its fan-out cursor (``last_seq``).

    ``secret`` is kept as issued (``whsec_...``): the exchange must produce HMACs with it, so a
    one-way hash would not do; it is returned only when created or rotated (see docs/feed.md).
    """

    __tablename__ = "feed_subscriptions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(ForeignKey("participants.code"))
    url: Mapped[str] = mapped_column(Text)
    types: Mapped[list[str]] = mapped_column(JSON)
    issuers: Mapped[list[str]] = mapped_column(JSON)
    regimes: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    secret: Mapped[str] = mapped_column(String(120))
    # After a rotation the old secret still signs (a second signature) until this time.
    previous_secret: Mapped[str | None] = mapped_column(String(120), nullable=True)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    disabled_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Delivery(Base):
    """One event for one subscription: created by the fan-out, claimed under a lease, retried."""

    __tablename__ = "feed_deliveries"
    __table_args__ = (UniqueConstraint("subscription_id", "seq"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    subscription_id: Mapped[str] = mapped_column(ForeignKey("feed_subscriptions.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(ForeignKey("feed_events.seq"))
    msg_id: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    schedule_index: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliveryAttempt(Base):
    """Every HTTP attempt of a delivery, kept for the subscriber's troubleshooting."""

    __tablename__ = "feed_delivery_attempts"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    delivery_id: Mapped[int] = mapped_column(ForeignKey("feed_deliveries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer)


Index("ix_feed_subscriptions_owner", Subscription.owner)
Index("ix_feed_deliveries_due", Delivery.status, Delivery.next_attempt_at)
Index("ix_feed_deliveries_subscription", Delivery.subscription_id, Delivery.id)
Index("ix_feed_delivery_attempts_delivery", DeliveryAttempt.delivery_id, DeliveryAttempt.number)
