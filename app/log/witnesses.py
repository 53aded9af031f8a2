"""Witnesses (C2SP tlog-cosignature): registration by the operator and the cosignatures they send.

A witness posts the checkpoint note it cosigned, with its cosignature line among the signature
lines (what ``note.add_signatures`` produces from ``GET /v1/log/checkpoint``). The signature is
the authentication, as in C2SP tlog-witness, so no bearer token is needed; only cosignatures by
registered, active witness keys are considered. A witness only moves forward: a cosignature on
an older checkpoint, or with an older timestamp, than the newest one stored for it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from lnx_client.core import note
from lnx_client.core.checkpoint import CheckpointError, parse_checkpoint
from lnx_client.core.cosignature import CosignatureVerifier
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from app.log import repository
from app.log.models import LogCosignature, LogWitness
from app.participants import repository as participants_repository

__all__ = [
    "MAX_CLOCK_SKEW",
    "CosignatureResult",
    "register_witness",
    "list_witnesses",
    "deactivate_witness",
    "latest_cosigned_size",
    "add_cosignatures",
]

MAX_CLOCK_SKEW = timedelta(minutes=10)
"""A cosignature timestamp further than this in the future is refused."""


@dataclass(slots=True)
class CosignatureResult:
    checkpoint_size: int
    stored: list[str] = field(default_factory=list)
    already_stored: list[str] = field(default_factory=list)


def _invalid(pointer: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"pointer": pointer, "message": message}])


def register_witness(
    session: Session, vkey: str, *, name: str | None = None, participant_code: str | None = None
) -> LogWitness:
    """Register a witness key; its name is the key name of ``vkey``."""
    try:
        verifier = CosignatureVerifier.from_vkey(vkey)
    except note.NoteError as exc:
        raise _invalid("/vkey", "vkey must be a tlog-cosignature (type 0x04) Ed25519 verifier key") from exc
    if name is not None and name != verifier.name:
        raise _invalid("/name", "name must equal the key name of vkey")
    if (
        participant_code is not None
        and participants_repository.get_participant(session, participant_code) is None
    ):
        raise _invalid("/participant", f"no participant {participant_code}")
    if repository.get_witness(session, verifier.name) is not None:
        raise Conflict(f"witness {verifier.name} is already registered", code="witness-exists")
    witness = LogWitness(name=verifier.name, vkey=vkey, participant_code=participant_code, active=True)
    repository.add_witness(session, witness)
    return witness


def list_witnesses(session: Session) -> list[LogWitness]:
    return repository.list_witnesses(session)


def deactivate_witness(session: Session, name: str) -> LogWitness:
    """Stop accepting a witness's cosignatures; those already stored are still served."""
    witness = repository.get_witness(session, name)
    if witness is None:
        raise NotFound(f"no witness {name}", code="witness-not-found")
    witness.active = False
    session.flush()
    return witness


def latest_cosigned_size(session: Session, name: str) -> int | None:
    newest = repository.newest_cosignature(session, name)
    return None if newest is None else newest.checkpoint_size


def _registered(
    session: Session, signatures: list[note.NoteSignature]
) -> list[tuple[CosignatureVerifier, note.NoteSignature]]:
    """The signatures made by registered, active witness keys, with those keys' verifiers."""
    found = []
    for sig in dict.fromkeys(signatures):  # a line repeated in the note counts once
        witness = repository.get_witness(session, sig.name)
        if witness is None or not witness.active:
            continue
        verifier = CosignatureVerifier.from_vkey(witness.vkey)
        if verifier.key_id == sig.key_id:
            found.append((verifier, sig))
    return found


def add_cosignatures(session: Session, body: str) -> CosignatureResult:
    """Verify and store the witness cosignatures on a checkpoint note the log signed."""
    try:
        text, signatures = note.split_note(body)
        checkpoint = parse_checkpoint(text)
    except (note.NoteError, CheckpointError) as exc:
        raise BadRequest("the body must be a signed checkpoint note", code="malformed-note") from exc
    record = repository.checkpoint_at(session, checkpoint.size)
    if record is None:
        raise NotFound(
            f"the log has published no checkpoint of size {checkpoint.size}", code="checkpoint-not-found"
        )
    if note.split_note(record.note)[0] != text:
        raise Conflict(
            f"this is not the checkpoint the log signed for size {checkpoint.size}",
            code="checkpoint-mismatch",
        )
    cosigs = _registered(session, signatures)
    if not cosigs:
        raise Forbidden("the note carries no cosignature by a registered witness", code="unknown-witness")
    result = CosignatureResult(checkpoint.size)
    latest_allowed = int((utcnow() + MAX_CLOCK_SKEW).timestamp())
    for verifier, sig in cosigs:
        if not verifier.verify(text.encode(), sig.signature):
            raise ValidationFailed(f"the cosignature of {sig.name} does not verify", code="bad-cosignature")
        timestamp = verifier.signature_timestamp(sig.signature)
        assert timestamp is not None  # verify() checked the length
        if timestamp > latest_allowed:
            raise ValidationFailed(
                f"the cosignature of {sig.name} is dated in the future", code="bad-cosignature"
            )
        _store(session, result, sig, timestamp)
    return result


def _store(session: Session, result: CosignatureResult, sig: note.NoteSignature, timestamp: int) -> None:
    existing = repository.get_cosignature(session, sig.name, result.checkpoint_size)
    if existing is not None:
        if existing.signature_line != sig.line:
            raise Conflict(
                f"{sig.name} has already cosigned the checkpoint of size {result.checkpoint_size}",
                code="already-cosigned",
            )
        result.already_stored.append(sig.name)
        return
    newest = repository.newest_cosignature(session, sig.name)
    if newest is not None and (
        newest.checkpoint_size > result.checkpoint_size or newest.timestamp > timestamp
    ):
        raise Conflict(
            f"{sig.name} has cosigned a newer checkpoint (size {newest.checkpoint_size}); witnesses only move forward",
            code="stale-cosignature",
        )
    repository.add_cosignature(
        session,
        LogCosignature(
            witness_name=sig.name,
            checkpoint_size=result.checkpoint_size,
            timestamp=timestamp,
            signature_line=sig.line,
        ),
    )
    result.stored.append(sig.name)
