"""Stored documents: the exact JWS bytes, the parsed payload, chains and recipients.

Rows are never updated after acceptance except the chain's computed status; the JWS text is the
evidence and is kept byte for byte.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, service_checked_key

__all__ = ["Document", "DocumentRecipient", "DocumentChain"]


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    # Checked by the service on PostgreSQL, by the schema too on SQLite (``service_checked_key``).
    issuer: Mapped[str] = mapped_column(service_checked_key("participants.code"))
    regime: Mapped[str] = mapped_column(service_checked_key("regimes.id"))
    kid: Mapped[str] = mapped_column(service_checked_key("participant_keys.kid"))
    jws: Mapped[str] = mapped_column(Text)
    jws_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    recipients: Mapped[list[str]] = mapped_column(JSON)
    broadcast: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Addressed with ``["*"]``: its recipients are the regime's members at ``received_at``, read
    from the membership history (``regime_memberships``), not stored as recipient rows. It repeats
    what ``recipients`` says because a filter on a flag needs no JSON comparison, which the two
    databases spell differently (PostgreSQL's ``json`` has no equality at all)."""
    references_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """What an update, cancellation, post-launch report or acknowledgement answers; its index
    holds only documents that refer to something (migration 0009)."""
    chain_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    integrated_time: Mapped[datetime] = mapped_column(UTCDateTime)
    log_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    vehicle_class: Mapped[str | None] = mapped_column(String(16), nullable=True)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)


class DocumentRecipient(Base):
    """Who a document is addressed to by name; a ``["*"]`` document (``Document.broadcast``) has none.

    Documents accepted before migration 0008 have their ``["*"]`` expanded here, a row per member;
    both forms read the same through ``repository.recipients_of`` and ``visibility``.

    Without foreign keys (migration 0007): they cost more than the rows in the batch's write
    statement, and nothing can break them (documents and participants are never deleted; the
    rows are written with their document, for codes the same transaction checked as members).
    """

    __tablename__ = "document_recipients"

    document_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    participant_code: Mapped[str] = mapped_column(String(16), primary_key=True)


class DocumentChain(Base):
    """A pre-launch notification with its updates and its end (cancellation or post-launch report)."""

    __tablename__ = "document_chains"

    id: Mapped[str] = mapped_column(service_checked_key("documents.id"), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(16))
    regime: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    current_id: Mapped[str] = mapped_column(String(64))
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    vehicle_class: Mapped[str | None] = mapped_column(String(16), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


Index("ix_documents_issuer_type", Document.issuer, Document.type)
# Partial: a pre-launch notification or an annual declaration refers to nothing, and a NULL entry
# would only cost an index insert per such document (the lookups are all ``= id`` or ``IN``).
_REFERS = text("references_id IS NOT NULL")
Index("ix_documents_references_id", Document.references_id, postgresql_where=_REFERS, sqlite_where=_REFERS)
Index("ix_documents_regime_type", Document.regime, Document.type)
Index("ix_document_recipients_participant", DocumentRecipient.participant_code, DocumentRecipient.document_id)
Index("ix_document_chains_window", DocumentChain.window_start)
