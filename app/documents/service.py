"""Accepting documents: the rules that need the database (identity, regime membership, recipients,
references and chains), findings, and storage with the log leaf and the feed event in the same
transaction. Services never commit; the caller (the submission batcher) owns the transaction.

Submissions arrive in batches (group commit, ``app.documents.batcher``), and the write section is
what every submission of the exchange queues for, so it is built for batches:

1. ``_Known.load`` reads what the rules need with one query per kind, for the whole batch:
   documents with the submitted or referenced ids, the signing keys, regimes with their members
   (these three sent together: one round trip on PostgreSQL, ``app.db.read_together``),
   the referenced documents' recipients, their chains (row-locked) and earlier acknowledgements;
2. ``_admit`` applies the rules to each submission in order, in memory. What an accepted
   submission adds (its document, recipients, chain change, acknowledgement) goes into the same
   in-memory state, so a later submission of the batch sees it exactly as it would have seen it
   committed: an update may follow its pre-launch notification in the same batch;
3. ``_store`` writes every accepted document with one statement per table: one log-index
   allocation, one insert of leaves, documents, recipients and chains, and one feed-sequence
   allocation with its events.

A refused submission writes nothing, so one bad document never needs a SAVEPOINT to spare the
rest. Only a uniqueness race with another worker (the same id stored by a concurrent batch)
fails the statement for the whole batch; the batcher then replays it one submission at a time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from lnx_client.core.entry import entry_bytes
from lnx_client.core.merkle import leaf_hash
from shapely.geometry import shape
from sqlalchemy.orm import Session

from app.db import insert_rows, is_postgres, read_together, update_rows
from app.documents import repository
from app.documents.intake import Intake, require_valid_key
from app.documents.models import Document, DocumentChain, DocumentRecipient
from app.documents.payloads import member
from app.documents.visibility import Access, access_given
from app.errors import Conflict, Forbidden, LnxError, ValidationFailed
from app.feed import outbox
from app.log import service as log_service
from app.participants import repository as participants_repository
from app.participants.repository import KeyValidity
from app.regimes import repository as regimes_repository
from app.regimes import service as regimes_service
from app.regimes.rules import evaluate

__all__ = ["Accepted", "AnyDocument", "NewDocument", "accept", "accept_batch", "CHAIN_TYPES", "chain_status"]

CHAIN_TYPES = ("pre-launch", "pre-launch-update", "cancellation", "post-launch")
_FOLLOW_UPS = ("pre-launch-update", "cancellation")
_NO_ENTRUSTED: frozenset[str] = frozenset()  # submitters are states and observers, never auditors

_documents = Document.__table__
_recipients = DocumentRecipient.__table__
_chains = DocumentChain.__table__
_CHAIN_COLUMNS = tuple(c.name for c in _chains.columns)
_DOCUMENT_COLUMNS = tuple(c.name for c in _documents.columns)


@dataclass(slots=True)
class NewDocument:
    """A document the batch accepts, as the row it will be: the columns of ``Document``.

    Built instead of an ORM ``Document`` because the batch inserts rows with Core, and an ORM
    instance cost more to construct than all the acceptance rules together (measured: 125 µs).
    ``log_index`` and ``leaf_hash`` are set when the batch's leaves are sequenced.
    """

    id: str
    type: str
    issuer: str
    regime: str
    kid: str
    jws: str
    jws_sha256: str
    payload: dict[str, Any]
    recipients: list[str]
    references_id: str | None
    chain_id: str | None
    issued_at: datetime
    received_at: datetime
    integrated_time: datetime
    findings: list[dict[str, Any]]
    vehicle_class: str | None
    window_start: datetime | None
    window_end: datetime | None
    year: int | None
    log_index: int = -1
    leaf_hash: str = ""
    broadcast: bool = False


if {f.name for f in fields(NewDocument)} != set(_DOCUMENT_COLUMNS):  # pragma: no cover - a model change
    raise RuntimeError("NewDocument must have exactly the columns of Document")

AnyDocument = Document | NewDocument
RegimeRow = regimes_repository.RegimeRules
"""A regime as the batch reads it: ``id``, ``rules``, ``sources`` and ``boundary``."""


@dataclass(frozen=True, slots=True)
class Accepted:
    document: AnyDocument
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


# ---------------------------------------------------------------- what a batch knows


@dataclass(slots=True)
class _Chain:
    """A chain row being read and changed by the batch (``new``: inserted, else updated if ``changed``)."""

    row: dict[str, Any]
    new: bool
    changed: bool = False


@dataclass(slots=True)
class _Known:
    """The rows the rules of a batch read, plus what earlier submissions of the batch added."""

    documents: dict[str, AnyDocument]
    recipients: dict[str, set[str]]
    keys: dict[str, KeyValidity]
    regimes: dict[str, RegimeRow]
    members: dict[str, set[str]]
    chains: dict[str, _Chain]
    acknowledged: set[tuple[str, str]]
    boundaries: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)
    staged: list[tuple[NewDocument, list[str]]] = field(default_factory=list)

    @classmethod
    def load(cls, session: Session, intakes: list[Intake]) -> _Known:
        ids = {i.payload.id for i in intakes}
        refs = {ref for i in intakes if (ref := member(i.payload, "references"))}
        regime_ids = {i.payload.regime for i in intakes}
        document_rows, regime_rows, key_rows = read_together(
            session,
            [
                repository.documents_read(ids | refs),
                regimes_repository.regimes_read(regime_ids),
                participants_repository.key_validity_read({i.kid for i in intakes}),
            ],
        )
        documents: dict[str, AnyDocument] = {row["id"]: NewDocument(**row) for row in document_rows}
        stored_refs = refs & documents.keys()
        chain_ids = {c for r in stored_refs if (c := documents[r].chain_id) is not None}
        regimes, members = regimes_repository.regimes_and_members(regime_rows, regime_ids)
        return cls(
            documents=documents,
            recipients={k: set(v) for k, v in repository.recipients_of(session, sorted(stored_refs)).items()},
            keys=participants_repository.key_validities(key_rows),
            regimes=regimes,
            members=members,
            chains={row["id"]: _Chain(row, new=False) for row in repository.lock_chains(session, chain_ids)},
            acknowledged=repository.acknowledgers_of(session, stored_refs),
        )

    def boundary_of(self, regime: RegimeRow) -> Any:
        if regime.id not in self.boundaries:
            self.boundaries[regime.id] = shape(regime.boundary) if regime.boundary else None
        return self.boundaries[regime.id]

    def rules_of(self, regime: RegimeRow) -> Any:
        if regime.id not in self.rules:
            self.rules[regime.id] = regimes_service.rules_of(regime)
        return self.rules[regime.id]

    def stage(self, document: NewDocument, recipients: list[str]) -> None:
        self.documents[document.id] = document
        self.recipients[document.id] = set(recipients)
        self.staged.append((document, recipients))
        if document.type == "acknowledgement" and document.references_id is not None:
            self.acknowledged.add((document.references_id, document.issuer))


# ---------------------------------------------------------------- the rules, per submission


def _resolve_recipients(intake: Intake, members: set[str]) -> list[str]:
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


def _referenced(known: _Known, intake: Intake) -> AnyDocument:
    """The referenced document, if the issuer may read it; otherwise the same 422 as for a missing one."""
    ref_id = intake.payload.references
    target = known.documents.get(ref_id)
    if target is None or (
        access_given(
            intake.principal,
            target.issuer,
            target.regime,
            intake.principal.code in known.recipients.get(ref_id, ()),
            _NO_ENTRUSTED,
        )
        != Access.FULL
    ):
        raise _invalid("/references", f"no document {ref_id} that the issuer can read", "unknown-reference")
    if target.regime != intake.payload.regime:
        raise _invalid(
            "/regime", f"a follow-up must stay in the regime of {ref_id} ({target.regime})", "regime-mismatch"
        )
    return target


def _open_chain_of(known: _Known, intake: Intake, target: AnyDocument) -> _Chain:
    payload = intake.payload
    if target.type not in ("pre-launch", "pre-launch-update") or target.chain_id is None:
        raise _invalid(
            "/references", f"a {payload.type} must refer to a pre-launch notification", "wrong-reference-type"
        )
    if target.issuer != payload.issuer:
        raise _invalid(
            "/references", "a follow-up must extend a notification of the same issuer", "not-own-chain"
        )
    chain = known.chains[target.chain_id]
    status, current = chain.row["status"], chain.row["current_id"]
    if status not in repository.CHAIN_OPEN:
        raise Conflict(
            f"the notification chain {target.chain_id} is {status}; it cannot be extended",
            code="chain-closed",
            extra={"chain": target.chain_id, "chain_status": status},
        )
    if payload.type == "pre-launch-update" and target.id != current:
        raise Conflict(
            f"{target.id} has been superseded by {current}; an update must refer to the current version",
            code="stale-reference",
            extra={"current": current},
        )
    return chain


def _check_acknowledgement(known: _Known, intake: Intake, target: AnyDocument) -> None:
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
    if (target.id, payload.issuer) in known.acknowledged:
        raise Conflict(f"{payload.issuer} has already acknowledged {target.id}", code="already-acknowledged")
    if payload.recipients != ["*"] and target.issuer not in payload.recipients:
        raise _invalid(
            "/recipients", f"an acknowledgement must be addressed to {target.issuer}", "missing-recipient"
        )


def _findings(known: _Known, intake: Intake, regime: RegimeRow, now: datetime) -> list[dict[str, Any]]:
    rules, boundary = known.rules_of(regime), known.boundary_of(regime)
    return [f.to_dict() for f in evaluate(intake.payload, rules, now, boundary, sources=regime.sources)]


def _vehicle_and_window(payload: Any) -> tuple[str | None, datetime | None, datetime | None]:
    vehicle = member(payload, "vehicle")
    window = member(payload, "window")
    return (
        vehicle.generic_class if vehicle is not None else None,
        window.start if window is not None else None,
        window.end if window is not None else None,
    )


def _admit(known: _Known, intake: Intake, now: datetime) -> Accepted:
    """Apply every rule to one submission; stage it in ``known`` or raise the precise refusal."""
    payload = intake.payload
    jws_sha256 = hashlib.sha256(intake.raw.encode("ascii")).hexdigest()
    existing = known.documents.get(payload.id)
    if existing is not None:
        if existing.jws_sha256 == jws_sha256:
            return Accepted(existing, created=False)
        raise Conflict(f"a different document with id {payload.id} was already accepted", code="duplicate-id")

    # Intake checked the key outside this transaction; a revocation may have committed since.
    key = known.keys.get(intake.kid)
    if key is None:
        raise Forbidden("the signing key is no longer valid", code="key-not-valid")
    require_valid_key(key, now)

    regime = known.regimes.get(payload.regime)
    if regime is None:
        raise _invalid("/regime", f"unknown regime {payload.regime}", "unknown-regime")
    members = known.members.get(regime.id, set())
    if payload.issuer not in members:
        raise Forbidden(f"{payload.issuer} is not a member of regime {regime.id}", code="not-a-member")
    recipients = _resolve_recipients(intake, members)

    chain: _Chain | None = None
    if payload.type in _FOLLOW_UPS or (payload.type == "post-launch" and payload.references):
        chain = _open_chain_of(known, intake, _referenced(known, intake))
    elif payload.type == "acknowledgement":
        _check_acknowledgement(known, intake, _referenced(known, intake))

    findings = _findings(known, intake, regime, now)
    vehicle_class, window_start, window_end = _vehicle_and_window(payload)
    document = NewDocument(
        id=payload.id,
        type=payload.type,
        issuer=payload.issuer,
        regime=regime.id,
        kid=intake.kid,
        jws=intake.raw,
        jws_sha256=jws_sha256,
        payload=intake.payload_obj,
        recipients=list(payload.recipients),
        broadcast=list(payload.recipients) == ["*"],
        references_id=member(payload, "references"),
        chain_id=payload.id if payload.type == "pre-launch" else (chain.row["id"] if chain else None),
        issued_at=payload.issued_at,
        received_at=now,
        integrated_time=now,
        findings=findings,
        vehicle_class=vehicle_class,
        window_start=window_start,
        window_end=window_end,
        year=member(payload, "year"),
    )
    known.stage(document, recipients)
    _advance_chain(known, document, chain, now)
    return Accepted(document, created=True)


def _advance_chain(known: _Known, document: NewDocument, chain: _Chain | None, now: datetime) -> None:
    if document.type == "pre-launch":
        row = {
            "id": document.id,
            "issuer": document.issuer,
            "regime": document.regime,
            "status": "scheduled",
            "current_id": document.id,
            "closed_by": None,
            "window_start": document.window_start,
            "window_end": document.window_end,
            "vehicle_class": document.vehicle_class,
            "updated_at": now,
        }
        known.chains[document.id] = _Chain(row, new=True)
        return
    if chain is None:
        return
    row = chain.row
    if document.type == "pre-launch-update":
        row.update(
            status="updated",
            current_id=document.id,
            window_start=document.window_start,
            window_end=document.window_end,
            vehicle_class=document.vehicle_class,
        )
    elif document.type == "cancellation":
        row.update(status="cancelled", closed_by=document.id)
    elif document.type == "post-launch":
        row.update(status="launched", closed_by=document.id)
    row["updated_at"] = now
    chain.changed = True


# ---------------------------------------------------------------- storage, once per batch


def _store(session: Session, known: _Known, now: datetime) -> None:
    """Write what the batch accepted: leaves, documents, recipients, chains and feed events.

    The log's counter and the feed's are taken in one round trip (``_take_counters``): from
    there to COMMIT every other writer of the exchange waits, so that is where a round trip
    costs the most.
    """
    if not known.staged:
        return
    documents = [document for document, _ in known.staged]
    leaves = [entry_bytes(d.jws.encode("ascii"), now) for d in documents]
    hashes = [leaf_hash(leaf) for leaf in leaves]  # before the locks, which others wait for
    log_allocation, feed_allocation = _take_counters(session, len(leaves), len(documents))
    sequenced = log_service.sequence_allocated(session, leaves, log_allocation, now, hashes=hashes)
    for document, (log_index, leaf_hash_) in zip(documents, sequenced, strict=True):
        document.log_index = log_index
        document.leaf_hash = leaf_hash_.hex()
    insert_rows(session, _documents, [{c: getattr(d, c) for c in _DOCUMENT_COLUMNS} for d in documents])
    # A ["*"] document's recipients are the membership history's (``Document.broadcast``): no row
    # per member, which for a regime of 140 states would be 139 rows per document.
    recipient_rows = [
        {"document_id": document.id, "participant_code": code}
        for document, recipients in known.staged
        if not document.broadcast
        for code in recipients
    ]
    insert_rows(session, _recipients, recipient_rows)
    new_chains = [c.row for c in known.chains.values() if c.new]
    insert_rows(session, _chains, [{k: row[k] for k in _CHAIN_COLUMNS} for row in new_chains])
    changed = [c.row for c in known.chains.values() if c.changed and not c.new]
    update_rows(session, _chains, [{k: row[k] for k in _CHAIN_COLUMNS} for row in changed])
    outbox.append_allocated(
        session,
        [
            {
                "type": outbox.document_event_type(d.type),
                "subject": d.id,
                "time": now,
                "document_id": d.id,
                "issuer": d.issuer,
                "regime": d.regime,
            }
            for d in documents
        ],
        feed_allocation,
    )


def _take_counters(
    session: Session, leaves: int, events: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of the log's allocation and of the feed's (for ``sequence_allocated`` and
    ``append_allocated``): on PostgreSQL one statement takes both, the log's locks first
    (``repository.counters_read``); SQLite's writer already holds the database, and runs the two."""
    if is_postgres(session):
        [rows] = read_together(session, [repository.counters_read(leaves, events)])
        return rows, rows
    log_rows, feed_rows = read_together(
        session, [log_service.allocation(session, leaves), outbox.allocation(session, events)]
    )
    return log_rows, feed_rows


def accept_batch(session: Session, intakes: list[Intake], now: datetime) -> list[Accepted | LnxError]:
    """Store the acceptable submissions of a batch; per submission, its outcome or its refusal.

    Outcomes come in the order of ``intakes``, and so do the log indexes of the new documents.
    A database error (e.g. a concurrent batch stored the same id) propagates: the transaction is
    then to be rolled back as a whole.
    """
    known = _Known.load(session, intakes)
    results: list[Accepted | LnxError] = []
    for intake in intakes:
        try:
            results.append(_admit(known, intake, now))
        except LnxError as exc:
            results.append(exc)
    _store(session, known, now)
    return results


def accept(session: Session, intake: Intake, now: datetime) -> Accepted:
    """Store one verified submission with its log leaf and feed event, or raise why not."""
    [result] = accept_batch(session, [intake], now)
    if isinstance(result, LnxError):
        raise result
    return result
