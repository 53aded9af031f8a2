"""Accepting documents: the rules that need the database (identity, regime membership, recipients,
references and chains), findings, and storage with the log leaf and the feed event in the same
transaction. Services never commit; the caller (the submission batcher) owns the transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lnx_client.core.entry import entry_bytes
from shapely.geometry import shape
from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.documents import repository
from app.documents.intake import Intake
from app.documents.models import Document, DocumentChain, DocumentRecipient
from app.documents.visibility import Access, access_to
from app.errors import Conflict, Forbidden, ValidationFailed
from app.feed import outbox
from app.log import service as log_service
from app.participants import repository as participants_repository
from app.regimes import repository as regimes_repository
from app.regimes import service as regimes_service
from app.regimes.rules import evaluate

__all__ = ["Accepted", "accept", "CHAIN_TYPES", "chain_status"]

CHAIN_TYPES = ("pre-launch", "pre-launch-update", "cancellation", "post-launch")


@dataclass(frozen=True, slots=True)
class Accepted:
    document: Document
    created: bool


def _invalid(pointer: str, message: str, code: str = "invalid-document") -> ValidationFailed:
    return ValidationFailed(message, code=code, errors=[{"pointer": pointer, "message": message}])


def chain_status(chain: DocumentChain | None, now: datetime) -> str | None:
    """The chain's status; an open chain whose window has closed is ``expired``."""
    if chain is None:
        return None
    if chain.status in repository.CHAIN_OPEN and chain.window_end is not None and chain.window_end < now:
        return "expired"
    return chain.status


def _resolve_recipients(session: Session, intake: Intake, members: set[str]) -> list[str]:
    payload = intake.payload
    if list(payload.recipients) == ["*"]:
        return sorted(members - {payload.issuer})
    for position, code in enumerate(payload.recipients):
        if code not in members:
            raise _invalid(
                f"/recipients/{position}",
                f"{code} is not a member of regime {payload.regime}",
                "recipient-not-a-member",
            )
    return sorted(set(payload.recipients) - {payload.issuer})


def _referenced(session: Session, intake: Intake, now: datetime) -> Document:
    """The referenced document, if the issuer may read it; otherwise the same 422 as for a missing one."""
    ref_id = intake.payload.references
    target = repository.get_document(session, ref_id)
    if target is None or access_to(session, intake.principal, target) != Access.FULL:
        raise _invalid("/references", f"no document {ref_id} that the issuer can read", "unknown-reference")
    if target.regime != intake.payload.regime:
        raise _invalid(
            "/regime", f"a follow-up must stay in the regime of {ref_id} ({target.regime})", "regime-mismatch"
        )
    return target


def _open_chain_of(session: Session, intake: Intake, target: Document, now: datetime) -> DocumentChain:
    payload = intake.payload
    if target.type not in ("pre-launch", "pre-launch-update") or target.chain_id is None:
        raise _invalid(
            "/references", f"a {payload.type} must refer to a pre-launch notification", "wrong-reference-type"
        )
    if target.issuer != payload.issuer:
        raise _invalid(
            "/references", "a follow-up must extend a notification of the same issuer", "not-own-chain"
        )
    chain = repository.get_chain(session, target.chain_id, for_update=True)
    assert chain is not None
    if chain.status not in repository.CHAIN_OPEN:
        raise Conflict(
            f"the notification chain {chain.id} is {chain.status}; it cannot be extended",
            code="chain-closed",
            extra={"chain": chain.id, "chain_status": chain.status},
        )
    if payload.type == "pre-launch-update" and target.id != chain.current_id:
        raise Conflict(
            f"{target.id} has been superseded by {chain.current_id}; an update must refer to the current version",
            code="stale-reference",
            extra={"current": chain.current_id},
        )
    return chain


def _check_acknowledgement(session: Session, intake: Intake, target: Document) -> None:
    payload = intake.payload
    if target.issuer == payload.issuer:
        raise _invalid(
            "/references", "a participant does not acknowledge its own document", "self-acknowledgement"
        )
    if target.type == "acknowledgement":
        raise _invalid("/references", "acknowledgements are not acknowledged", "wrong-reference-type")
    # That the target is addressed to the acknowledger needs no check of its own: _referenced()
    # only returns documents the issuer reads in full, and a submitter (state or observer) reads
    # in full only what it issued (refused above) or what is addressed to it.
    if repository.acknowledgement_by(session, target.id, payload.issuer) is not None:
        raise Conflict(f"{payload.issuer} has already acknowledged {target.id}", code="already-acknowledged")
    if payload.recipients != ["*"] and target.issuer not in payload.recipients:
        raise _invalid(
            "/recipients", f"an acknowledgement must be addressed to {target.issuer}", "missing-recipient"
        )


def _findings(session: Session, intake: Intake, regime: Any, now: datetime) -> list[dict[str, Any]]:
    boundary = shape(regime.boundary) if regime.boundary else None
    rules = regimes_service.rules_of(regime)
    return [f.to_dict() for f in evaluate(intake.payload, rules, now, boundary, sources=regime.sources)]


def _vehicle_and_window(payload: Any) -> tuple[str | None, datetime | None, datetime | None]:
    vehicle = getattr(payload, "vehicle", None)
    window = getattr(payload, "window", None)
    return (
        vehicle.generic_class if vehicle is not None else None,
        window.start if window is not None else None,
        window.end if window is not None else None,
    )


def accept(session: Session, intake: Intake, now: datetime) -> Accepted:
    """Store a verified submission with its log leaf and feed event, or say precisely why not."""
    payload = intake.payload
    jws_sha256 = hashlib.sha256(intake.raw.encode("ascii")).hexdigest()
    existing = repository.get_document(session, payload.id)
    if existing is not None:
        if existing.jws_sha256 == jws_sha256:
            return Accepted(existing, created=False)
        raise Conflict(f"a different document with id {payload.id} was already accepted", code="duplicate-id")

    # Intake checked the key outside this transaction; a revocation may have committed since.
    key = participants_repository.get_key(session, intake.kid)
    if key is None or not key.is_valid_at(now):
        raise Forbidden("the signing key is no longer valid", code="key-not-valid")

    regime = regimes_repository.get_regime(session, payload.regime)
    if regime is None:
        raise _invalid("/regime", f"unknown regime {payload.regime}", "unknown-regime")
    members = set(regimes_repository.member_codes(session, regime.id))
    if payload.issuer not in members:
        raise Forbidden(f"{payload.issuer} is not a member of regime {regime.id}", code="not-a-member")
    recipients = _resolve_recipients(session, intake, members)

    chain: DocumentChain | None = None
    target: Document | None = None
    if payload.type in ("pre-launch-update", "cancellation") or (
        payload.type == "post-launch" and payload.references
    ):
        target = _referenced(session, intake, now)
        chain = _open_chain_of(session, intake, target, now)
    elif payload.type == "acknowledgement":
        target = _referenced(session, intake, now)
        _check_acknowledgement(session, intake, target)

    findings = _findings(session, intake, regime, now)
    vehicle_class, window_start, window_end = _vehicle_and_window(payload)
    leaf = entry_bytes(intake.raw.encode("ascii"), now)
    [(log_index, leaf_hash)] = log_service.sequence_many(session, [leaf], now)

    chain_id = payload.id if payload.type == "pre-launch" else (chain.id if chain is not None else None)
    document = Document(
        id=payload.id,
        type=payload.type,
        issuer=payload.issuer,
        regime=regime.id,
        kid=intake.kid,
        jws=intake.raw,
        jws_sha256=jws_sha256,
        payload=intake.payload_obj,
        recipients=list(payload.recipients),
        references_id=getattr(payload, "references", None),
        chain_id=chain_id,
        issued_at=payload.issued_at,
        received_at=now,
        integrated_time=now,
        log_index=log_index,
        leaf_hash=leaf_hash.hex(),
        findings=findings,
        vehicle_class=vehicle_class,
        window_start=window_start,
        window_end=window_end,
        year=getattr(payload, "year", None),
    )
    session.add(document)
    session.flush()
    if recipients:
        session.execute(
            insert(DocumentRecipient),
            [{"document_id": document.id, "participant_code": c} for c in recipients],
        )
    _advance_chain(session, document, chain, now)
    outbox.append_events(
        session,
        [
            {
                "type": outbox.document_event_type(document.type),
                "subject": document.id,
                "time": now,
                "document_id": document.id,
                "issuer": document.issuer,
                "regime": document.regime,
            }
        ],
    )
    return Accepted(document, created=True)


def _advance_chain(session: Session, document: Document, chain: DocumentChain | None, now: datetime) -> None:
    if document.type == "pre-launch":
        session.add(
            DocumentChain(
                id=document.id,
                issuer=document.issuer,
                regime=document.regime,
                status="scheduled",
                current_id=document.id,
                window_start=document.window_start,
                window_end=document.window_end,
                vehicle_class=document.vehicle_class,
                updated_at=now,
            )
        )
    elif chain is not None:
        if document.type == "pre-launch-update":
            chain.status = "updated"
            chain.current_id = document.id
            chain.window_start = document.window_start
            chain.window_end = document.window_end
            chain.vehicle_class = document.vehicle_class
        elif document.type == "cancellation":
            chain.status = "cancelled"
            chain.closed_by = document.id
        elif document.type == "post-launch":
            chain.status = "launched"
            chain.closed_by = document.id
        chain.updated_at = now
    session.flush()
