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

from lnx_client.core import jwk as core_jwk
from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.documents import signature
from app.documents.payloads import PayloadError, validate_payload
from app.errors import Forbidden, LnxError, PayloadTooLarge, ValidationFailed
from app.participants import repository as participants_repository

__all__ = ["Intake", "take_in", "SUBMITTING_ROLES"]

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


def take_in(session: Session, principal: Principal, raw: str, *, max_size: int, now: datetime) -> Intake:
    """Parse, validate and verify; raises problem errors naming what is wrong."""
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
    kid = str(parsed.header.get("kid"))
    key = participants_repository.get_key(session, kid)
    if key is None:
        raise ValidationFailed(
            "the kid is not a registered key",
            code="unknown-kid",
            errors=[{"pointer": "", "message": f"unknown kid {kid}"}],
        )
    if key.participant_code != payload.issuer:
        raise Forbidden("the signing key does not belong to the issuer", code="key-not-owned")
    if not key.is_valid_at(now):
        state = "revoked" if key.revoked_at is not None and key.revoked_at <= now else "not valid now"
        raise Forbidden(f"the signing key is {state}", code="key-not-valid")
    try:
        signature.verify(parsed, core_jwk.parse_public_jwk(key.jwk))
    except signature.JwsError as exc:
        raise _jws_problem(exc) from exc
    return Intake(
        raw=raw if isinstance(raw, str) else raw.decode("ascii"),
        header=dict(parsed.header),
        payload_obj=dict(parsed.payload),
        payload=payload,
        kid=kid,
        principal=principal,
    )
