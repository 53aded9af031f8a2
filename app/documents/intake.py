"""The first stage of a submission, run outside any write transaction: strict JWS parsing,
payload validation and the signature check.

Splitting this from the write transaction matters for throughput: the CPU-heavy part (an
Ed25519/P-256 verification and the schema and geometry checks) runs in parallel threads, and the
serialised write transaction only re-checks the key's validity (a key is its thumbprint, so its
material cannot change, only its status).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.documents import signature
from app.documents.payloads import PayloadError, validate_payload
from app.errors import Forbidden, LnxError, PayloadTooLarge, ValidationFailed
from app.participants import repository as participants_repository
from app.participants.keycache import SigningKey
from app.participants.models import ParticipantKey
from app.participants.repository import KeyValidity

__all__ = ["Intake", "Unverified", "read", "verify", "take_in", "require_valid_key", "SUBMITTING_ROLES"]

SUBMITTING_ROLES = ("state", "observer")


@dataclass(frozen=True, slots=True)
class Intake:
    """A submission that is well-formed, validly signed by a key of its issuer, and ready to store."""

    raw: str
    header: dict[str, Any]
    payload_obj: dict[str, Any]
    payload: Any
    kid: str
    principal: Principal


def _jws_problem(exc: signature.JwsError) -> LnxError:
    status = signature.status_for(exc)
    if status == 413:
        return PayloadTooLarge(str(exc), code="jws-too-large")
    return ValidationFailed(
        f"the JWS is not acceptable: {exc}",
        code=f"jws-{exc.code.replace('_', '-')}",
        errors=[{"pointer": "", "message": str(exc)}],
    )


@dataclass(frozen=True, slots=True)
class Unverified:
    """A submission whose JWS and payload are well-formed, before its key and signature are checked."""

    raw: str
    parsed: signature.ParsedJws
    payload: Any
    principal: Principal

    @property
    def kid(self) -> str:
        return str(self.parsed.header.get("kid"))


def read(principal: Principal, raw: str, *, max_size: int) -> Unverified:
    """Stage one, no I/O: strict JWS parse, payload schema, issuer and role; raises problem errors."""
    principal.require("submit", SUBMITTING_ROLES)
    try:
        parsed = signature.parse(raw, max_size=max_size)
    except signature.JwsError as exc:
        raise _jws_problem(exc) from exc
    try:
        payload = validate_payload(parsed.payload)
    except PayloadError as exc:
        raise ValidationFailed(
            "the payload does not match its schema", code="invalid-payload", errors=exc.errors
        ) from exc
    if payload.issuer != principal.code:
        raise Forbidden(
            f"the payload's issuer {payload.issuer} is not the token's participant {principal.code}",
            code="issuer-mismatch",
        )
    if principal.role == "observer" and payload.type != "acknowledgement":
        raise Forbidden("observers submit acknowledgements only", code="role-not-allowed")
    return Unverified(raw if isinstance(raw, str) else raw.decode("ascii"), parsed, payload, principal)


def verify(unverified: Unverified, key: SigningKey | None, now: datetime) -> Intake:
    """Stage two, no I/O: the key (looked up by the caller) is the issuer's and valid; the signature holds."""
    kid, payload = unverified.kid, unverified.payload
    if key is None:
        raise ValidationFailed(
            "the kid is not a registered key",
            code="unknown-kid",
            errors=[{"pointer": "", "message": f"unknown kid {kid}"}],
        )
    if key.participant_code != payload.issuer:
        raise Forbidden("the signing key does not belong to the issuer", code="key-not-owned")
    require_valid_key(key, now)
    try:
        signature.verify(unverified.parsed, key.public)
    except signature.JwsError as exc:
        raise _jws_problem(exc) from exc
    return Intake(
        raw=unverified.raw,
        header=dict(unverified.parsed.header),
        payload_obj=dict(unverified.parsed.payload),
        payload=payload,
        kid=kid,
        principal=unverified.principal,
    )


def require_valid_key(key: SigningKey | ParticipantKey | KeyValidity, now: datetime) -> None:
    """Refuse a key outside its validity, saying whether it was revoked (both key checks use this)."""
    if not key.is_valid_at(now):
        state = "revoked" if key.revoked_at is not None and key.revoked_at <= now else "not valid now"
        raise Forbidden(f"the signing key is {state}", code="key-not-valid")


def take_in(session: Session, principal: Principal, raw: str, *, max_size: int, now: datetime) -> Intake:
    """Both stages with the key read in ``session`` (the CLI, the demo and the console use this)."""
    unverified = read(principal, raw, max_size=max_size)
    row = participants_repository.get_key(session, unverified.kid)
    return verify(unverified, SigningKey.of(row) if row is not None else None, now)
