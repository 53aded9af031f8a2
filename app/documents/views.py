"""What a reader gets back: receipts, full documents and metadata-only views (contract §3, §4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.documents import repository
from app.documents.models import Document
from app.documents.service import AnyDocument, chain_status
from app.documents.visibility import Access

__all__ = ["receipt", "metadata_view", "full_view", "view", "iso", "document_status"]


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def receipt(document: AnyDocument, proof: str) -> dict[str, Any]:
    return {
        "id": document.id,
        "type": document.type,
        "issuer": document.issuer,
        "log_index": document.log_index,
        "leaf_hash": document.leaf_hash,
        "integrated_time": iso(document.integrated_time),
        "findings": document.findings,
        "proof": proof,
    }


def document_status(session: Session, document: Document, now: datetime) -> str:
    if document.chain_id is not None:
        return chain_status(repository.get_chain(session, document.chain_id), now) or "recorded"
    return "recorded"


def metadata_view(document: Document) -> dict[str, Any]:
    """Log-level metadata only: enough to check the log, nothing of the content."""
    return {
        "id": document.id,
        "type": document.type,
        "issuer": document.issuer,
        "regime": document.regime,
        "issued_at": iso(document.issued_at),
        "integrated_time": iso(document.integrated_time),
        "log_index": document.log_index,
        "leaf_hash": document.leaf_hash,
        "access": "metadata",
    }


def full_view(session: Session, document: Document, now: datetime, *, detail: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": document.id,
        "type": document.type,
        "issuer": document.issuer,
        "regime": document.regime,
        "status": document_status(session, document, now),
        "payload": document.payload,
        "jws": document.jws,
        "kid": document.kid,
        "issued_at": iso(document.issued_at),
        "integrated_time": iso(document.integrated_time),
        "log_index": document.log_index,
        "leaf_hash": document.leaf_hash,
        "findings": document.findings,
        "access": "full",
    }
    if detail:
        acks = repository.acknowledgements_of(session, document.id)
        out["acknowledgements"] = [
            {
                "id": a.id,
                "issuer": a.issuer,
                "issued_at": iso(a.issued_at),
                "integrated_time": iso(a.integrated_time),
            }
            for a in acks
        ]
        out["recipients"] = repository.recipients_of(session, [document.id])[document.id]
        out["history"] = (
            [d.id for d in repository.chain_documents(session, document.chain_id)]
            if document.chain_id
            else [document.id]
        )
    return out


def view(
    session: Session, document: Document, access: Access, now: datetime, *, detail: bool = True
) -> dict[str, Any]:
    return (
        full_view(session, document, now, detail=detail) if access == Access.FULL else metadata_view(document)
    )
