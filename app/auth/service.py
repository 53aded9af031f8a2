"""Authentication of bearer tokens and the authorisation checks built on roles and scopes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.cache import TOUCH_OPTION
from app.auth.tokens import TOKEN_PREFIX, hash_token, new_token, new_token_id, parse_scopes
from app.db import utcnow
from app.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from app.participants.models import ApiToken, Participant

__all__ = [
    "Principal",
    "authenticate",
    "authenticate_hash",
    "bearer_token",
    "touch_token",
    "issue_token",
    "revoke_token",
    "list_tokens",
    "IssuedToken",
]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the participant behind a valid token, and what the token allows."""

    code: str
    role: str
    token_id: str
    scopes: frozenset[str]
    last_used_stale: bool = False

    def require(self, scope: str, roles: tuple[str, ...] | None = None) -> None:
        if roles is not None and self.role not in roles:
            raise Forbidden(f"this action needs the role {' or '.join(roles)}", code="role-not-allowed")
        if scope not in self.scopes:
            raise Forbidden(f"this action needs a token with the '{scope}' scope", code="scope-not-allowed")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    record: ApiToken


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer lnx_...`` header; 401 for anything else."""
    if not authorization:
        raise Unauthorized("a bearer token is required", code="missing-token")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
        raise Unauthorized("the Authorization header must be 'Bearer lnx_...'", code="invalid-token")
    return token


def token_expired() -> Unauthorized:
    return Unauthorized("the token has expired", code="invalid-token")


def authenticate(
    session: Session, authorization: str | None, *, last_used_resolution_s: int = 60
) -> Principal:
    """The principal behind an ``Authorization: Bearer`` header; 401 for anything else."""
    token_hash = hash_token(bearer_token(authorization))
    return authenticate_hash(session, token_hash, last_used_resolution_s=last_used_resolution_s)[0]


def authenticate_hash(
    session: Session, token_hash: str, *, last_used_resolution_s: int = 60
) -> tuple[Principal, datetime | None]:
    """The principal behind a token's hash, and the token's expiry; 401 if it is not usable now."""
    row = session.execute(
        select(ApiToken, Participant)
        .join(Participant, Participant.code == ApiToken.participant_code)
        .where(ApiToken.token_hash == token_hash)
    ).first()
    now = utcnow()
    if row is None:
        raise Unauthorized("the token is not valid", code="invalid-token")
    record, participant = row
    if record.revoked_at is not None:
        raise Unauthorized("the token has been revoked", code="invalid-token")
    if record.expires_at is not None and record.expires_at <= now:
        raise token_expired()
    if not participant.active:
        raise Unauthorized("the participant is deactivated", code="invalid-token")
    stale = record.last_used_at is None or now - record.last_used_at >= timedelta(
        seconds=last_used_resolution_s
    )
    principal = Principal(
        code=participant.code,
        role=participant.role,
        token_id=record.id,
        scopes=record.scope_set,
        last_used_stale=stale,
    )
    return principal, record.expires_at


def touch_token(session: Session, token_id: str) -> None:
    """Record a token's use; called at most once a resolution period so reads stay reads."""
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .values(last_used_at=utcnow())
        .execution_options(**{TOUCH_OPTION: True})
    )


def issue_token(
    session: Session,
    participant_code: str,
    scopes: str | list[str],
    *,
    expires_in_days: float | None = None,
    description: str | None = None,
    now: datetime | None = None,
) -> IssuedToken:
    participant = session.get(Participant, participant_code)
    if participant is None:
        raise NotFound(f"no participant {participant_code}", code="participant-not-found")
    if not participant.active:
        raise ValidationFailed(
            "a deactivated participant gets no tokens",
            errors=[{"pointer": "/participant", "message": "deactivated"}],
        )
    try:
        scope_list = parse_scopes(scopes)
    except ValueError as exc:
        raise ValidationFailed(str(exc), errors=[{"pointer": "/scopes", "message": str(exc)}]) from exc
    if "admin" in scope_list and participant.role != "operator":
        raise ValidationFailed(
            "only an operator's token may carry the admin scope",
            errors=[{"pointer": "/scopes", "message": "admin scope is for operators only"}],
        )
    if expires_in_days is not None and expires_in_days <= 0:
        raise ValidationFailed(
            "expiry must be in the future", errors=[{"pointer": "/expires_in_days", "message": "> 0"}]
        )
    now = now or utcnow()
    token = new_token()
    record = ApiToken(
        id=new_token_id(),
        participant_code=participant_code,
        token_hash=hash_token(token),
        scopes=",".join(scope_list),
        description=description,
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days is not None else None,
    )
    session.add(record)
    session.flush()
    return IssuedToken(token=token, record=record)


def revoke_token(session: Session, token_id: str) -> ApiToken:
    record = session.get(ApiToken, token_id)
    if record is None:
        raise NotFound(f"no token {token_id}", code="token-not-found")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.flush()
    return record


def list_tokens(session: Session, participant_code: str | None = None) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)
    if participant_code:
        query = query.where(ApiToken.participant_code == participant_code)
    return list(session.scalars(query))
