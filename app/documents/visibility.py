"""Who may read what: the ONE visibility rule behind every read path (documents, feed, stream,
webhooks, GeoJSON, CAP, reports).

- the issuer and the addressed recipients read a document in full (for ``["*"]``: the members of
  its regime when it was accepted, from the membership history);
- an auditor that the document's regime names reads it in full;
- any other auditor sees only its log-level metadata (id, type, issuer, regime, times, log index,
  leaf hash) — enough to check the log, never the content;
- everyone else (other states, observers, the operator) does not see it at all: reads answer 404,
  never 403, so that nobody learns that a confidential document exists.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ColumnElement, and_, exists, or_, select, true
from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.documents.models import Document, DocumentRecipient
from app.regimes.models import RegimeAuditor
from app.regimes.repository import member_at

__all__ = [
    "Access",
    "access_to",
    "access_given",
    "full_access_clause",
    "any_access_clause",
    "entrusted_regimes",
]


class Access(StrEnum):
    NONE = "none"
    METADATA = "metadata"
    FULL = "full"


def entrusted_regimes(session: Session, principal: Principal) -> frozenset[str]:
    if principal.role != "auditor":
        return frozenset()
    return frozenset(
        session.scalars(
            select(RegimeAuditor.regime_id).where(RegimeAuditor.participant_code == principal.code)
        )
    )


def _addressed_clause(
    code: str, document_id: object, regime: object, broadcast: object, received_at: object
) -> ColumnElement[bool]:
    """Addressed to ``code``: by a recipient row, or as a member of the regime of a ``["*"]`` document."""
    return or_(
        exists().where(
            DocumentRecipient.document_id == document_id, DocumentRecipient.participant_code == code
        ),
        and_(broadcast, member_at(code, regime, received_at)),
    )


def full_access_clause(principal: Principal, entrusted: frozenset[str]) -> ColumnElement[bool]:
    """SQL condition on ``Document`` for documents the principal reads in full."""
    addressed = _addressed_clause(
        principal.code, Document.id, Document.regime, Document.broadcast, Document.received_at
    )
    clauses: list[ColumnElement[bool]] = [Document.issuer == principal.code, addressed]
    if entrusted:
        clauses.append(Document.regime.in_(sorted(entrusted)))
    return or_(*clauses)


def any_access_clause(principal: Principal, entrusted: frozenset[str]) -> ColumnElement[bool]:
    """SQL condition on ``Document`` for documents the principal sees at least as metadata."""
    if principal.role == "auditor":
        return true()
    return full_access_clause(principal, entrusted)


def access_given(
    principal: Principal, issuer: str, regime: str, addressed: bool, entrusted: frozenset[str]
) -> Access:
    """The rule itself, on facts already known (the batch submission path reads them in bulk)."""
    if issuer == principal.code or regime in entrusted or addressed:
        return Access.FULL
    return Access.METADATA if principal.role == "auditor" else Access.NONE


def access_to(
    session: Session, principal: Principal, document: Document, entrusted: frozenset[str] | None = None
) -> Access:
    if entrusted is None:
        entrusted = entrusted_regimes(session, principal)
    if document.issuer == principal.code or document.regime in entrusted:
        return Access.FULL
    addressed = bool(
        session.scalar(
            select(
                _addressed_clause(
                    principal.code, document.id, document.regime, document.broadcast, document.received_at
                )
            )
        )
    )
    return access_given(principal, document.issuer, document.regime, addressed, entrusted)
