"""Queries of the feed: the visible-event scan, subscriptions, deliveries and their attempts.

Visibility is never decided here: every event query takes its condition from
:mod:`app.documents.visibility` (``any_access_clause`` / ``full_access_clause``), the one rule
behind every read path; reminders (events without a document) go to their ``addressee`` only.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    false,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.documents.models import Document
from app.documents.visibility import any_access_clause, full_access_clause
from app.feed.events import Filters
from app.feed.models import Delivery, DeliveryAttempt, FeedEvent, FeedHead, Subscription
from app.participants.models import ApiToken, Participant

__all__ = [
    "head_seq",
    "visible_events",
    "visible_seqs",
    "visible_among",
    "matching_seqs",
    "events_between",
    "events_with_seqs",
    "token_still_valid",
    "participant",
    "get_subscription",
    "list_subscriptions",
    "delete_subscription",
    "subscriptions_behind",
    "any_subscription_behind",
    "insert_deliveries",
    "due_candidates",
    "lock_due",
    "lease",
    "any_active_subscription",
    "leases_of",
    "mark_delivered",
    "mark_succeeding",
    "add_attempts",
    "prune_finished",
    "next_due_at",
    "get_delivery",
    "list_deliveries",
    "attempts_of",
    "add_attempt",
]


_HEAD = select(FeedHead.next_seq).where(FeedHead.id == 1)


def head_seq(session: Session | Connection) -> int:
    """The highest committed seq (0 when empty); every seq at or below it is committed (gap-free).

    Also on a bare connection, for the hot path that needs nothing but this (``app.feed.head``).
    """
    next_seq = session.scalar(_HEAD)
    return int(next_seq or 1) - 1


def _visible(principal: Principal, entrusted: frozenset[str]) -> ColumnElement[bool]:
    return or_(
        and_(
            FeedEvent.addressee.is_(None),
            FeedEvent.document_id.is_not(None),
            any_access_clause(principal, entrusted),
        ),
        FeedEvent.addressee == principal.code,
    )


def _full(principal: Principal, entrusted: frozenset[str]) -> ColumnElement[bool]:
    # For every role but auditor, "sees it at all" and "reads it in full" are the same condition.
    if principal.role != "auditor":
        return true()
    return full_access_clause(principal, entrusted)


def _filtered(query: Select[Any], filters: Filters | None) -> Select[Any]:
    if filters is None:
        return query
    if filters.types:
        query = query.where(FeedEvent.type.in_(filters.types))
    if filters.issuers:
        query = query.where(FeedEvent.issuer.in_(filters.issuers))
    if filters.regimes:
        query = query.where(FeedEvent.regime.in_(filters.regimes))
    return query


def visible_events(
    session: Session,
    principal: Principal,
    entrusted: frozenset[str],
    lo: int,
    hi: int,
    filters: Filters | None,
    limit: int,
) -> list[tuple[FeedEvent, Document | None, bool]]:
    """Events with ``lo < seq <= hi`` the principal may see, in seq order: (event, document, full?)."""
    full = _full(principal, entrusted)
    query = (
        select(FeedEvent, Document, full.label("full"))
        .outerjoin(Document, Document.id == FeedEvent.document_id)
        .where(FeedEvent.seq > lo, FeedEvent.seq <= hi, _visible(principal, entrusted))
        .order_by(FeedEvent.seq)
        .limit(limit)
    )
    return [(e, d, bool(f)) for e, d, f in session.execute(_filtered(query, filters))]


def visible_seqs(
    session: Session, principal: Principal, entrusted: frozenset[str], lo: int, hi: int
) -> dict[int, bool]:
    """seq -> reads-in-full for the events in ``(lo, hi]`` the principal may see (no filters)."""
    query = (
        select(FeedEvent.seq, _full(principal, entrusted).label("full"))
        .outerjoin(Document, Document.id == FeedEvent.document_id)
        .where(FeedEvent.seq > lo, FeedEvent.seq <= hi, _visible(principal, entrusted))
    )
    return {int(seq): bool(full) for seq, full in session.execute(query)}


def visible_among(
    session: Session, principal: Principal, entrusted: frozenset[str], seqs: Sequence[int]
) -> dict[int, bool]:
    """seq -> reads-in-full for those of ``seqs`` the principal may see (one query for them all)."""
    if not seqs:
        return {}
    query = (
        select(FeedEvent.seq, _full(principal, entrusted).label("full"))
        .outerjoin(Document, Document.id == FeedEvent.document_id)
        .where(FeedEvent.seq.in_(list(seqs)), _visible(principal, entrusted))
    )
    return {int(seq): bool(full) for seq, full in session.execute(query)}


def matching_seqs(
    session: Session,
    principal: Principal,
    entrusted: frozenset[str],
    lo: int,
    hi: int,
    filters: Filters | None,
) -> list[int]:
    """Seqs in ``(lo, hi]`` the principal may see and the filters match (the webhook fan-out)."""
    query = (
        select(FeedEvent.seq)
        .outerjoin(Document, Document.id == FeedEvent.document_id)
        .where(FeedEvent.seq > lo, FeedEvent.seq <= hi, _visible(principal, entrusted))
        .order_by(FeedEvent.seq)
    )
    return [int(seq) for seq in session.scalars(_filtered(query, filters))]


def events_between(session: Session, lo: int, hi: int) -> list[tuple[FeedEvent, Document | None]]:
    query = (
        select(FeedEvent, Document)
        .outerjoin(Document, Document.id == FeedEvent.document_id)
        .where(FeedEvent.seq > lo, FeedEvent.seq <= hi)
        .order_by(FeedEvent.seq)
    )
    return [(e, d) for e, d in session.execute(query)]


def events_with_seqs(session: Session, seqs: Sequence[int]) -> list[tuple[FeedEvent, Document | None]]:
    query = (
        select(FeedEvent, Document)
        .outerjoin(Document, Document.id == FeedEvent.document_id)
        .where(FeedEvent.seq.in_(list(seqs)))
        .order_by(FeedEvent.seq)
    )
    return [(e, d) for e, d in session.execute(query)]


def token_still_valid(session: Session, token_id: str, now: datetime) -> bool:
    """Whether a long-lived stream's token is still usable (not revoked, not expired, participant active)."""
    row = session.execute(
        select(ApiToken.revoked_at, ApiToken.expires_at, Participant.active)
        .join(Participant, Participant.code == ApiToken.participant_code)
        .where(ApiToken.id == token_id)
    ).first()
    if row is None:
        return False
    revoked_at, expires_at, active = row
    return revoked_at is None and (expires_at is None or expires_at > now) and bool(active)


def participant(session: Session, code: str) -> Participant | None:
    return session.get(Participant, code)


# --- subscriptions -------------------------------------------------------------------------


def get_subscription(
    session: Session, subscription_id: str, *, for_update: bool = False
) -> Subscription | None:
    query = select(Subscription).where(Subscription.id == subscription_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def list_subscriptions(session: Session, owner: str) -> list[Subscription]:
    return list(
        session.scalars(
            select(Subscription)
            .where(Subscription.owner == owner)
            .order_by(Subscription.created_at, Subscription.id)
        )
    )


def delete_subscription(session: Session, subscription_id: str) -> None:
    """Remove a subscription with its deliveries and their attempts (no reliance on ON DELETE)."""
    deliveries = select(Delivery.id).where(Delivery.subscription_id == subscription_id)
    session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(deliveries)))
    session.execute(delete(Delivery).where(Delivery.subscription_id == subscription_id))
    session.execute(delete(Subscription).where(Subscription.id == subscription_id))


def subscriptions_behind(session: Session, head: int, limit: int) -> list[Subscription]:
    """Active subscriptions whose fan-out cursor is behind ``head``, locked for this worker.

    ``SKIP LOCKED`` lets workers in other processes take other subscriptions instead of waiting
    (PostgreSQL); SQLite has one writer at a time anyway and ignores the clause.
    """
    return list(
        session.scalars(
            select(Subscription)
            .where(Subscription.status == "active", Subscription.last_seq < head)
            .order_by(Subscription.last_seq)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def any_subscription_behind(session: Session, head: int) -> bool:
    query = (
        select(Subscription.id).where(Subscription.status == "active", Subscription.last_seq < head).limit(1)
    )
    return session.scalar(query) is not None


def insert_deliveries(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(Delivery.__table__.insert(), list(rows))


# --- deliveries ----------------------------------------------------------------------------


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        Delivery.status == "pending",
        Delivery.next_attempt_at <= now,
        or_(Delivery.locked_until.is_(None), Delivery.locked_until <= now),
    )


def due_candidates(
    session: Session, now: datetime, limit: int, exclude: Collection[str] = ()
) -> list[tuple[int, str]]:
    """Up to ``limit`` due deliveries of active subscriptions, (id, subscription), oldest due first.

    A plain read, without locks: the caller picks among them (the per-subscription cap) and
    locks what it picked with :func:`lock_due`. ``exclude`` leaves out subscriptions this
    worker already has enough attempts in flight for.
    """
    if limit <= 0:
        return []
    query = (
        select(Delivery.id, Delivery.subscription_id)
        .join(Subscription, Subscription.id == Delivery.subscription_id)
        .where(_due(now), Subscription.status == "active")
        .order_by(Delivery.next_attempt_at, Delivery.seq, Delivery.id)
        .limit(limit)
    )
    if exclude:
        query = query.where(Delivery.subscription_id.not_in(sorted(exclude)))
    return [(int(i), str(sub)) for i, sub in session.execute(query)]


def lock_due(session: Session, ids: Sequence[int], now: datetime) -> list[int]:
    """Those of ``ids`` still due, locked for this transaction.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` (re-evaluating "due" on the current row), so
    concurrent workers claim disjoint rows and never one another's fresh leases. SQLite: the
    engine opens write transactions with ``BEGIN IMMEDIATE``, so claims are serialised and the
    lease columns written by :func:`lease` are what other workers see.
    """
    if not ids:
        return []
    query = (
        select(Delivery.id)
        .where(Delivery.id.in_(list(ids)), _due(now))
        .order_by(Delivery.id)
        .with_for_update(skip_locked=True)
    )
    return [int(i) for i in session.scalars(query)]


def lease(session: Session, ids: Sequence[int], lease_until: datetime, lease_token: str) -> list[Row[Any]]:
    """Lease the given (locked, due) deliveries to this worker; what sending each one needs.

    Rows of ``id, seq, msg_id, attempts, subscription_id, owner, url, secret, previous_secret,
    previous_secret_until`` (plain columns: no ORM objects on the hot path). A lease that runs out
    (worker killed) makes the delivery due again: at-least-once.
    """
    if not ids:
        return []
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(ids)))
        .values(locked_until=lease_until, lease_token=lease_token)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.seq,
            Delivery.msg_id,
            Delivery.attempts,
            Delivery.subscription_id,
            Subscription.owner,
            Subscription.url,
            Subscription.secret,
            Subscription.previous_secret,
            Subscription.previous_secret_until,
        )
        .join(Subscription, Subscription.id == Delivery.subscription_id)
        .where(Delivery.id.in_(list(ids)))
        .order_by(Delivery.id)
    )
    return list(rows)


def any_active_subscription(session: Session) -> bool:
    """Whether any subscription is active (the delivery worker idles without a query per event otherwise)."""
    return session.scalar(select(Subscription.id).where(Subscription.status == "active").limit(1)) is not None


def leases_of(session: Session, ids: Sequence[int]) -> dict[int, str | None]:
    """delivery id -> current lease token, for the deliveries that still exist."""
    if not ids:
        return {}
    rows = session.execute(select(Delivery.id, Delivery.lease_token).where(Delivery.id.in_(list(ids))))
    return {int(i): token for i, token in rows}


_deliveries = Delivery.__table__


def mark_delivered(session: Session, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    """Bulk outcome of successful attempts, each applied only while its lease is held.

    ``rows``: ``{"d_id", "d_lease", "d_attempts", "d_status_code"}``. One executemany.
    """
    if not rows:
        return
    c = _deliveries.c
    session.execute(
        _deliveries.update()
        .where(c.id == bindparam("d_id"), c.lease_token == bindparam("d_lease"))
        .values(
            status="delivered",
            attempts=bindparam("d_attempts"),
            last_attempt_at=now,
            last_status_code=bindparam("d_status_code"),
            last_error=None,
            locked_until=None,
            lease_token=None,
            next_attempt_at=None,
            delivered_at=now,
        ),
        list(rows),
    )


def mark_succeeding(session: Session, subscription_ids: Collection[str], now: datetime) -> None:
    """End the failure streak of subscriptions that just had a success."""
    if subscription_ids:
        session.execute(
            update(Subscription)
            .where(Subscription.id.in_(sorted(subscription_ids)))
            .values(failing_since=None, last_success_at=now)
            .execution_options(synchronize_session=False)
        )


def add_attempts(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(DeliveryAttempt.__table__.insert(), list(rows))


_FINISHED = ("delivered", "failed", "skipped")


def prune_finished(session: Session, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` finished deliveries last touched before ``before``, with their attempts."""
    finished_at = func.coalesce(Delivery.delivered_at, Delivery.last_attempt_at, Delivery.created_at)
    ids = list(
        session.scalars(
            select(Delivery.id).where(Delivery.status.in_(_FINISHED), finished_at < before).limit(limit)
        )
    )
    if ids:
        session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids)))
        session.execute(
            delete(Delivery)
            .where(Delivery.id.in_(ids), Delivery.status.in_(_FINISHED))
            .execution_options(synchronize_session=False)
        )
    return len(ids)


def next_due_at(session: Session, now: datetime) -> datetime | None:
    """When the next pending delivery becomes due (a lease running out counts), for the worker's sleep."""
    pending = and_(
        Delivery.status == "pending",
        Delivery.subscription_id.in_(select(Subscription.id).where(Subscription.status == "active")),
    )
    first_due = session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            pending, or_(Delivery.locked_until.is_(None), Delivery.locked_until <= now)
        )
    )
    first_lease = session.scalar(
        select(func.min(Delivery.locked_until)).where(pending, Delivery.locked_until > now)
    )
    candidates = [t for t in (first_due, first_lease) if t is not None]
    return min(candidates) if candidates else None


def get_delivery(session: Session, subscription_id: str, delivery_id: int) -> Delivery | None:
    return session.scalars(
        select(Delivery).where(Delivery.id == delivery_id, Delivery.subscription_id == subscription_id)
    ).first()


def list_deliveries(
    session: Session, subscription_id: str, *, status: str | None, before_id: int | None, limit: int
) -> list[Delivery]:
    """Newest first, keyset-paginated by id."""
    query = select(Delivery).where(Delivery.subscription_id == subscription_id)
    if status:
        query = query.where(Delivery.status == status)
    if before_id is not None:
        query = query.where(Delivery.id < before_id)
    return list(session.scalars(query.order_by(Delivery.id.desc()).limit(limit)))


def attempts_of(session: Session, delivery_id: int) -> list[DeliveryAttempt]:
    return list(
        session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == delivery_id)
            .order_by(DeliveryAttempt.number)
        )
    )


def add_attempt(session: Session, **values: Any) -> None:
    session.execute(DeliveryAttempt.__table__.insert(), [values])


def lease_held(lease_token: str) -> ColumnElement[bool]:
    """Guard for writing an attempt's outcome: only while this worker still holds the lease."""
    return Delivery.lease_token == lease_token if lease_token else false()
