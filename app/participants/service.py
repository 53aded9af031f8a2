"""Participants and their keys: registration, updates, deactivation, key registration and rotation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from lnx_client.core import jwk as core_jwk
from lnx_client.core import jws as core_jws
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.participants import repository
from app.participants.codes import check_code_for_role
from app.participants.models import Participant, ParticipantKey
from app.participants.schemas import KeyOut, ParticipantCreate, ParticipantUpdate

__all__ = [
    "add_participant",
    "update_participant",
    "deactivate_participant",
    "get_participant",
    "register_key",
    "revoke_key",
    "rotate_key",
    "key_status",
    "key_out",
    "jwks",
    "ROTATION_TYP",
    "ROTATION_MAX_SKEW",
]

ROTATION_TYP = "lnx-key-rotation+json"
ROTATION_MAX_SKEW = timedelta(minutes=10)


def get_participant(session: Session, code: str) -> Participant:
    participant = repository.get_participant(session, code)
    if participant is None:
        raise NotFound(f"no participant {code}", code="participant-not-found")
    return participant


def add_participant(session: Session, data: ParticipantCreate) -> Participant:
    problem = check_code_for_role(data.code, data.role)
    if problem:
        raise ValidationFailed(problem, errors=[{"pointer": "/code", "message": problem}])
    if repository.get_participant(session, data.code) is not None:
        raise Conflict(f"participant {data.code} already exists", code="participant-exists")
    participant = Participant(
        code=data.code, name=data.name, role=data.role, contact=data.contact, active=True
    )
    session.add(participant)
    session.flush()
    return participant


def update_participant(session: Session, code: str, data: ParticipantUpdate) -> Participant:
    participant = get_participant(session, code)
    for field, value in data.model_dump(exclude_unset=True).items():
        if field == "name" and value is None:
            raise ValidationFailed(
                "name cannot be null", errors=[{"pointer": "/name", "message": "required"}]
            )
        setattr(participant, field, value)
    participant.updated_at = utcnow()
    session.flush()
    return participant


def deactivate_participant(session: Session, code: str) -> Participant:
    """Deactivation, never deletion: its documents, keys and log entries must stay verifiable."""
    participant = get_participant(session, code)
    if participant.active:
        participant.active = False
        participant.deactivated_at = utcnow()
        participant.updated_at = participant.deactivated_at
        session.flush()
    return participant


def _parse_new_jwk(obj: Any, pointer: str = "/jwk") -> core_jwk.PublicJwk:
    if not isinstance(obj, dict):
        raise ValidationFailed(
            "the key must be a JWK object", errors=[{"pointer": pointer, "message": "not an object"}]
        )
    try:
        return core_jwk.parse_public_jwk(obj)
    except core_jwk.JwkError as exc:
        field = getattr(exc, "field", None)
        where = f"{pointer}/{field}" if field else pointer
        raise ValidationFailed(
            str(exc), code="invalid-jwk", errors=[{"pointer": where, "message": str(exc)}]
        ) from exc


def _check_interval(not_before: datetime, not_after: datetime | None) -> None:
    if not_after is not None and not_after <= not_before:
        raise ValidationFailed(
            "not_after must be later than not_before",
            errors=[{"pointer": "/not_after", "message": "must be later than not_before"}],
        )


def register_key(
    session: Session,
    code: str,
    jwk_obj: Any,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    added_by: str = "operator",
) -> ParticipantKey:
    participant = get_participant(session, code)
    if not participant.active:
        raise Conflict(f"participant {code} is deactivated", code="participant-inactive")
    public = _parse_new_jwk(jwk_obj)
    not_before = not_before or utcnow()
    _check_interval(not_before, not_after)
    existing = repository.get_key(session, public.kid)
    if existing is not None:
        raise Conflict(
            f"key {public.kid} is already registered", code="key-exists", extra={"kid": public.kid}
        )
    key = ParticipantKey(
        kid=public.kid,
        participant_code=code,
        jwk=public.to_dict(),
        family=public.family,
        not_before=not_before,
        not_after=not_after,
        added_by=added_by,
    )
    session.add(key)
    session.flush()
    return key


def revoke_key(
    session: Session, code: str, kid: str, reason: str, *, revoked_at: datetime | None = None
) -> ParticipantKey:
    key = repository.get_key(session, kid)
    if key is None or key.participant_code != code:
        raise NotFound(f"participant {code} has no key {kid}", code="key-not-found")
    if key.revoked_at is not None:
        raise Conflict(f"key {kid} was already revoked", code="key-revoked")
    key.revoked_at = revoked_at or utcnow()
    key.revocation_reason = reason
    session.flush()
    return key


def rotate_key(session: Session, code: str, request_jws: str, proof_jws: str) -> ParticipantKey:
    """Add a participant's next key without the operator, proving possession of both keys.

    ``request`` is signed by a currently valid key of the participant, ``proof`` by the new key,
    both over the same payload ``{"participant", "action": "add-key", "jwk", "issued_at"}``;
    ``issued_at`` must be within ten minutes of the server's clock (replay window), and a key
    can be registered only once, so a replayed pair can do nothing.
    """
    participant = get_participant(session, code)
    if not participant.active:
        raise Conflict(f"participant {code} is deactivated", code="participant-inactive")
    try:
        request = core_jws.parse_compact(request_jws, expected_typ=ROTATION_TYP)
        proof = core_jws.parse_compact(proof_jws, expected_typ=ROTATION_TYP)
    except core_jws.JwsError as exc:
        raise ValidationFailed(
            str(exc), code="invalid-rotation", errors=[{"pointer": "/request", "message": str(exc)}]
        ) from exc
    if request.payload_bytes != proof.payload_bytes:
        raise ValidationFailed(
            "request and proof must sign the same payload",
            code="invalid-rotation",
            errors=[{"pointer": "/proof", "message": "payload differs from the request's"}],
        )
    payload = request.payload
    if payload.get("participant") != code or payload.get("action") != "add-key":
        raise ValidationFailed(
            "the rotation payload must name this participant and action add-key",
            code="invalid-rotation",
            errors=[{"pointer": "/request", "message": "participant or action mismatch"}],
        )
    now = utcnow()
    try:
        issued_at = datetime.fromisoformat(str(payload.get("issued_at")).replace("Z", "+00:00"))
        if issued_at.tzinfo is None:
            raise ValueError("naive")
    except ValueError as exc:
        raise ValidationFailed(
            "issued_at must be an RFC 3339 UTC time",
            code="invalid-rotation",
            errors=[{"pointer": "/request", "message": "bad issued_at"}],
        ) from exc
    if abs(now - issued_at) > ROTATION_MAX_SKEW:
        raise ValidationFailed(
            "the rotation request is too old or from the future",
            code="invalid-rotation",
            errors=[{"pointer": "/request", "message": "issued_at outside the 10-minute window"}],
        )
    current = repository.get_key(session, str(request.header.get("kid")))
    if current is None or current.participant_code != code or not current.is_valid_at(now):
        raise Forbidden(
            "the request is not signed by a current key of the participant", code="rotation-key-invalid"
        )
    current_jwk = core_jwk.parse_public_jwk(current.jwk)
    new_public = _parse_new_jwk(payload.get("jwk"))
    if proof.header.get("kid") != new_public.kid:
        raise ValidationFailed(
            "the proof must be signed by the new key",
            code="invalid-rotation",
            errors=[{"pointer": "/proof", "message": "kid is not the new key's thumbprint"}],
        )
    try:
        core_jws.check_alg_for_key(request.header, current_jwk)
        core_jws.verify_signature(request, current_jwk)
        core_jws.check_alg_for_key(proof.header, new_public)
        core_jws.verify_signature(proof, new_public)
    except core_jws.JwsError as exc:
        raise Forbidden(f"rotation signature check failed: {exc}", code="rotation-signature-invalid") from exc
    return register_key(session, code, payload["jwk"], added_by=f"self:{current.kid}")


def key_status(key: ParticipantKey, now: datetime | None = None) -> str:
    now = now or utcnow()
    if key.revoked_at is not None and key.revoked_at <= now:
        return "revoked"
    if now < key.not_before:
        return "not-yet-valid"
    if key.not_after is not None and now >= key.not_after:
        return "expired"
    return "active"


def key_out(key: ParticipantKey) -> KeyOut:
    return KeyOut(
        kid=key.kid,
        participant=key.participant_code,
        jwk=key.jwk,
        family=key.family,
        status=key_status(key),  # type: ignore[arg-type]
        not_before=key.not_before,
        not_after=key.not_after,
        revoked_at=key.revoked_at,
        revocation_reason=key.revocation_reason,
        added_by=key.added_by,
        created_at=key.created_at,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def jwks(session: Session, code: str) -> dict[str, Any]:
    """The participant's keys as a JWK Set, history included; revoked keys carry ``revoked_at``."""
    get_participant(session, code)
    keys = []
    for key in repository.list_keys(session, code):
        entry = dict(key.jwk)
        entry.update(
            {
                "kid": key.kid,
                "use": "sig",
                "alg": "ES256" if key.family == "P-256" else "Ed25519",
                "status": key_status(key),
                "not_before": _iso(key.not_before),
                "not_after": _iso(key.not_after),
                "revoked_at": _iso(key.revoked_at),
                "revocation_reason": key.revocation_reason,
            }
        )
        keys.append(entry)
    return {"keys": keys}
