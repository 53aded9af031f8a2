"""Queries of the reports domain.

Every selection over documents takes ``visible``, a SQL condition on ``Document`` built by
:mod:`app.documents.visibility` (or ``true()`` for the aggregate counts the operator and auditors
receive): the reports never decide on their own who may read what.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.documents.models import Document, DocumentChain, DocumentRecipient
from app.documents.repository import CHAIN_OPEN, broadcast_recipients
from app.participants.models import Participant
from app.regimes.models import RegimeMembership
from app.reports.models import ReportReminder

__all__ = [
    "NOTIFICATION_TYPES",
    "declaration_versions",
    "documents_by_id",
    "year_chains",
    "year_notifications",
    "recipient_counts",
    "acknowledgements_of",
    "post_launch_reports",
    "open_windows",
    "expired_chains",
    "member_states",
    "declared_issuers",
    "sent_reminders",
    "claim_reminder",
]

NOTIFICATION_TYPES = ("pre-launch", "pre-launch-update")


def declaration_versions(
    session: Session,
    visible: ColumnElement[bool],
    *,
    year: int | None = None,
    issuer: str | None = None,
    regimes: Sequence[str] | None = None,
) -> list[Row[Any]]:
    """Every visible annual declaration (light columns only), oldest first in log order."""
    query = select(
        Document.id,
        Document.issuer,
        Document.regime,
        Document.year,
        Document.log_index,
        Document.integrated_time,
    ).where(Document.type == "annual-declaration", visible)
    if year is not None:
        query = query.where(Document.year == year)
    if issuer:
        query = query.where(Document.issuer == issuer)
    if regimes is not None:
        query = query.where(Document.regime.in_(list(regimes)))
    return list(session.execute(query.order_by(Document.log_index)))


def documents_by_id(session: Session, ids: Iterable[str]) -> dict[str, Document]:
    wanted = list(ids)
    if not wanted:
        return {}
    return {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(wanted)))}


def _chains_in(regime: str, start: datetime, end: datetime) -> Select[tuple[str]]:
    """Ids of the chains of ``regime`` whose (current) window starts in ``[start, end)``."""
    # correlate(None): embedded in a query over the same table, it must stay a query of its own.
    return (
        select(DocumentChain.id)
        .where(
            DocumentChain.regime == regime,
            DocumentChain.window_start >= start,
            DocumentChain.window_start < end,
        )
        .correlate(None)
    )


def year_chains(
    session: Session, visible: ColumnElement[bool], regime: str, start: datetime, end: datetime
) -> list[Row[Any]]:
    """Chains whose window starts in the period and whose current version is visible."""
    query = (
        select(DocumentChain.id, DocumentChain.issuer, DocumentChain.status, DocumentChain.vehicle_class)
        .join(Document, Document.id == DocumentChain.current_id)
        .where(DocumentChain.id.in_(_chains_in(regime, start, end)), visible)
        .order_by(DocumentChain.id)
    )
    return list(session.execute(query))


def _notification_conditions(
    visible: ColumnElement[bool], regime: str, start: datetime, end: datetime
) -> list[ColumnElement[bool]]:
    return [
        Document.type.in_(NOTIFICATION_TYPES),
        Document.regime == regime,
        Document.chain_id.in_(_chains_in(regime, start, end)),
        visible,
    ]


def _notification_ids(
    visible: ColumnElement[bool], regime: str, start: datetime, end: datetime
) -> Select[tuple[str]]:
    """Ids of the visible notification versions of the period, as a subquery of its own."""
    return select(Document.id).where(*_notification_conditions(visible, regime, start, end)).correlate(None)


def year_notifications(
    session: Session, visible: ColumnElement[bool], regime: str, start: datetime, end: datetime
) -> list[Row[Any]]:
    """Visible notification versions (pre-launch and updates) of the chains of the period."""
    query = select(
        Document.id, Document.issuer, Document.chain_id, Document.integrated_time, Document.findings
    ).where(*_notification_conditions(visible, regime, start, end))
    return list(session.execute(query.order_by(Document.log_index)))


def recipient_counts(
    session: Session, visible: ColumnElement[bool], regime: str, start: datetime, end: datetime
) -> dict[str, int]:
    """How many participants each visible notification of the period was addressed to.

    Named recipients are rows; a ``["*"]`` notification was addressed to its regime's members at
    acceptance, but its issuer (``Document.broadcast``, the membership history).
    """
    ids = _notification_ids(visible, regime, start, end)
    named = (
        select(DocumentRecipient.document_id, func.count())
        .where(DocumentRecipient.document_id.in_(ids))
        .group_by(DocumentRecipient.document_id)
    )
    broadcast = (
        broadcast_recipients(Document.id, func.count())
        .where(Document.id.in_(ids), Document.broadcast)
        .group_by(Document.id)
    )
    counts: dict[str, int] = {}
    for query in (named, broadcast):
        for document_id, count in session.execute(query):
            counts[document_id] = counts.get(document_id, 0) + count
    return counts


def acknowledgements_of(
    session: Session, visible: ColumnElement[bool], regime: str, start: datetime, end: datetime
) -> list[Row[Any]]:
    """Visible acknowledgements of the visible notifications of the period: (references_id, time)."""
    query = select(Document.references_id, Document.integrated_time).where(
        Document.type == "acknowledgement",
        Document.references_id.in_(_notification_ids(visible, regime, start, end)),
        visible,
    )
    return list(session.execute(query))


def post_launch_reports(
    session: Session, visible: ColumnElement[bool], regime: str, year: int
) -> list[Row[Any]]:
    """Visible post-launch reports of ``regime`` whose ``launched_at`` falls in ``year``.

    ``launched_at`` is only in the payload; it is an RFC 3339 UTC string (the payload schema
    refuses offsets), so its first four characters are the UTC year on both databases.
    """
    launched_at = Document.payload["launched_at"].as_string()
    query = (
        select(Document.id, Document.issuer, Document.vehicle_class, Document.references_id)
        .where(
            Document.type == "post-launch",
            Document.regime == regime,
            func.substr(launched_at, 1, 4) == f"{year:04d}",
            visible,
        )
        .order_by(Document.log_index)
    )
    return list(session.execute(query))


def open_windows(
    session: Session, visible: ColumnElement[bool], *, starts_before: datetime, ends_after: datetime
) -> list[tuple[DocumentChain, Document]]:
    """Open chains (scheduled or updated) with a window not yet closed that opens before ``starts_before``."""
    query = (
        select(DocumentChain, Document)
        .join(Document, Document.id == DocumentChain.current_id)
        .where(
            DocumentChain.status.in_(CHAIN_OPEN),
            DocumentChain.window_end >= ends_after,
            DocumentChain.window_start <= starts_before,
            visible,
        )
        .order_by(DocumentChain.window_start, DocumentChain.id)
    )
    return [(chain, document) for chain, document in session.execute(query)]


def expired_chains(
    session: Session,
    visible: ColumnElement[bool],
    now: datetime,
    *,
    closed_since: datetime | None = None,
) -> list[tuple[DocumentChain, Document]]:
    """Open chains whose window has closed: neither a post-launch report nor a cancellation came."""
    query = (
        select(DocumentChain, Document)
        .join(Document, Document.id == DocumentChain.current_id)
        .where(DocumentChain.status.in_(CHAIN_OPEN), DocumentChain.window_end < now, visible)
        .order_by(DocumentChain.window_end, DocumentChain.id)
    )
    if closed_since is not None:
        query = query.where(DocumentChain.window_end >= closed_since)
    return [(chain, document) for chain, document in session.execute(query)]


def member_states(session: Session, regime_id: str) -> list[str]:
    """Current members of the regime that are active states (observers file no declarations)."""
    query = (
        select(RegimeMembership.participant_code)
        .join(Participant, Participant.code == RegimeMembership.participant_code)
        .where(
            RegimeMembership.regime_id == regime_id,
            RegimeMembership.left_at.is_(None),
            Participant.role == "state",
            Participant.active.is_(True),
        )
        .order_by(RegimeMembership.participant_code)
    )
    return list(session.scalars(query))


def declared_issuers(session: Session, regime_id: str, year: int) -> set[str]:
    """Issuers with at least one annual declaration on ``year`` in the regime (any version)."""
    query = select(Document.issuer).where(
        Document.type == "annual-declaration", Document.regime == regime_id, Document.year == year
    )
    return set(session.scalars(query))


def sent_reminders(session: Session, kinds: Sequence[str]) -> set[tuple[str, str, str, str]]:
    """The (kind, participant, regime, key) of every reminder already sent of these kinds."""
    query = select(
        ReportReminder.kind, ReportReminder.participant, ReportReminder.regime, ReportReminder.key
    ).where(ReportReminder.kind.in_(list(kinds)))
    return {(kind, participant, regime, key) for kind, participant, regime, key in session.execute(query)}


def claim_reminder(
    session: Session, kind: str, participant: str, regime: str, key: str, now: datetime
) -> bool:
    """Insert the ledger row unless it exists; ``True`` if this transaction claimed the reminder.

    ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: a concurrent worker claiming the same
    reminder waits for this transaction on the primary key (PostgreSQL) or for the write lock
    (SQLite), then inserts nothing and gets no row back, and so sends nothing. No exception, no
    aborted transaction. (RETURNING rather than ``rowcount``, which an ORM-enabled insert does
    not report.)
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(ReportReminder)
        .values(kind=kind, participant=participant, regime=regime, key=key, sent_at=now)
        .on_conflict_do_nothing(index_elements=["kind", "participant", "regime", "key"])
        .returning(ReportReminder.key)
    )
    return session.execute(statement).first() is not None
