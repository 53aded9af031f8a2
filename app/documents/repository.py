"""Queries of the documents domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select, text, union_all
from sqlalchemy.orm import Session

from app.db import KeyedRead, Prepared, Read
from app.documents.models import Document, DocumentChain, DocumentRecipient
from app.feed import outbox
from app.log import repository as log_repository
from app.regimes.models import RegimeMembership
from app.regimes.repository import membership_active_at

__all__ = [
    "get_document",
    "documents_read",
    "counters_read",
    "lock_chains",
    "acknowledgers_of",
    "get_chain",
    "preload_chains",
    "chain_documents",
    "acknowledgements_of",
    "recipients_of",
    "broadcast_recipients",
    "list_documents",
    "CHAIN_OPEN",
]

CHAIN_OPEN = ("scheduled", "updated")

# The submission batch's reads, built once: constructing a statement and its cache key cost more
# than running it (measured on PostgreSQL: 370 µs per execution when built per call, 160 µs
# prebuilt). Lists are "expanding" parameters, so one statement serves any number of ids.
_chains = DocumentChain.__table__

# PostgreSQL: a batch's two counters in one statement, the feed's after the log's (see
# ``feed.outbox.allocation_after``): every writer takes the locks in that order (the tree head,
# the log's counter, the feed's counter), and the batch pays one round trip for both inside
# the locks, which every other writer waits for.
_COUNTERS_DRIVER = Prepared(
    text(f"WITH {log_repository.ALLOCATION_CTES} {outbox.allocation_after('leaves')}")
)


def counters_read(leaves: int, events: int) -> Read:
    """PostgreSQL: reserve ``leaves`` log indexes (locking the tree head) and ``events`` feed
    sequence numbers (queueing the NOTIFY), in one statement, for ``read_together``."""
    return _COUNTERS_DRIVER(leaves=leaves, events=events, log_head=1)


documents_read = KeyedRead(select(Document.__table__), Document.id, "ids")
"""Documents as plain column mappings, by a list of ids (the submission batch's read, sent with
the others of ``app.db.read_together``: ORM entities cost it about three times the query)."""
_LOCK_CHAINS = (
    select(_chains)
    .where(_chains.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_chains.c.id)
    .with_for_update()
)
_ACKNOWLEDGERS = select(Document.references_id, Document.issuer).where(
    Document.type == "acknowledgement", Document.references_id.in_(bindparam("ids", expanding=True))
)


def broadcast_recipients(*columns: Any) -> Select[Any]:
    """SELECT ``columns`` FROM documents JOIN the memberships that make a ``["*"]`` document's
    recipients: its regime's members when it was accepted, but its issuer (``Document.broadcast``;
    the membership history instead of a row per member and document). The caller adds
    ``Document.broadcast`` and its own conditions."""
    return select(*columns).join(
        RegimeMembership,
        and_(
            RegimeMembership.regime_id == Document.regime,
            RegimeMembership.participant_code != Document.issuer,
            membership_active_at(Document.received_at),
        ),
    )


# Named recipients (rows), and for ``["*"]`` documents the members of the time.
_RECIPIENTS = union_all(
    select(DocumentRecipient.document_id, DocumentRecipient.participant_code).where(
        DocumentRecipient.document_id.in_(bindparam("ids", expanding=True))
    ),
    broadcast_recipients(Document.id, RegimeMembership.participant_code).where(
        Document.id.in_(bindparam("ids", expanding=True)), Document.broadcast
    ),
).order_by("participant_code")


def get_document(session: Session, document_id: str) -> Document | None:
    return session.get(Document, document_id)


def lock_chains(session: Session, chain_ids: set[str]) -> list[dict[str, Any]]:
    """Chain rows as plain dicts, row-locked until the transaction ends (PostgreSQL)."""
    if not chain_ids:
        return []
    return [dict(row._mapping) for row in session.execute(_LOCK_CHAINS, {"ids": sorted(chain_ids)})]


def acknowledgers_of(session: Session, document_ids: set[str]) -> set[tuple[str, str]]:
    """``(document id, acknowledging participant)`` for every acknowledgement of these documents."""
    if not document_ids:
        return set()
    rows = session.execute(_ACKNOWLEDGERS, {"ids": list(document_ids)})
    return {(str(ref), str(issuer)) for ref, issuer in rows}


def get_chain(session: Session, chain_id: str) -> DocumentChain | None:
    return session.get(DocumentChain, chain_id)  # the identity map answers pre-loaded chains


def preload_chains(session: Session, chain_ids: set[str]) -> None:
    """Load a page's chains in one query so that per-document status lookups need none."""
    if chain_ids:
        list(session.scalars(select(DocumentChain).where(DocumentChain.id.in_(sorted(chain_ids)))))


def chain_documents(session: Session, chain_id: str) -> list[Document]:
    return list(
        session.scalars(select(Document).where(Document.chain_id == chain_id).order_by(Document.log_index))
    )


def acknowledgements_of(session: Session, document_id: str) -> list[Document]:
    return list(
        session.scalars(
            select(Document)
            .where(Document.type == "acknowledgement", Document.references_id == document_id)
            .order_by(Document.log_index)
        )
    )


def recipients_of(session: Session, document_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in document_ids}
    if not document_ids:
        return out
    rows = session.execute(_RECIPIENTS, {"ids": list(document_ids)})
    for document_id, code in rows:
        out[document_id].append(code)
    return out


def status_clause(status: str, now: datetime) -> ColumnElement[bool]:
    """Filter documents by the computed status of their chain (``expired`` is derived from time)."""
    if status == "expired":
        return and_(DocumentChain.status.in_(CHAIN_OPEN), DocumentChain.window_end < now)
    if status in CHAIN_OPEN:
        return and_(
            DocumentChain.status == status,
            or_(DocumentChain.window_end.is_(None), DocumentChain.window_end >= now),
        )
    return DocumentChain.status == status


def list_documents(
    session: Session,
    visible: ColumnElement[bool],
    *,
    types: Sequence[str] = (),
    issuer: str | None = None,
    regime: str | None = None,
    vehicle_class: str | None = None,
    window_from: datetime | None = None,
    window_to: datetime | None = None,
    status: str | None = None,
    after_index: int | None = None,
    limit: int = 100,
    now: datetime,
) -> list[Document]:
    query: Select[tuple[Document]] = select(Document).where(visible)
    if types:
        query = query.where(Document.type.in_(list(types)))
    if issuer:
        query = query.where(Document.issuer == issuer)
    if regime:
        query = query.where(Document.regime == regime)
    if vehicle_class:
        query = query.where(Document.vehicle_class == vehicle_class)
    if window_from:
        query = query.where(Document.window_end >= window_from)
    if window_to:
        query = query.where(Document.window_start <= window_to)
    if status:
        query = query.join(DocumentChain, DocumentChain.id == Document.chain_id).where(
            status_clause(status, now)
        )
    if after_index is not None:
        query = query.where(Document.log_index > after_index)
    return list(session.scalars(query.order_by(Document.log_index).limit(limit)))


def count_documents(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Document)) or 0
