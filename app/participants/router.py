"""HTTP routes of participants, their keys and API tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from app.auth import service as auth_service
from app.deps import CurrentPrincipal, OperatorDep, ReaderDep, ReadSessionDep, SessionDep
from app.errors import Forbidden
from app.participants import repository
from app.participants import service as participants_service
from app.participants.models import ApiToken
from app.participants.schemas import (
    Jwks,
    KeyCreate,
    KeyOut,
    KeyRevoke,
    KeyRotation,
    ParticipantCreate,
    ParticipantOut,
    ParticipantUpdate,
    Role,
    TokenCreate,
    TokenIssued,
    TokenOut,
)

router = APIRouter(prefix="/v1", tags=["participants"])


@router.post("/participants", status_code=201, response_model=ParticipantOut)
def add_participant(
    body: ParticipantCreate, session: SessionDep, _op: OperatorDep, response: Response
) -> Any:
    """Register a participant (operator)."""
    participant = participants_service.add_participant(session, body)
    response.headers["Location"] = f"/v1/participants/{participant.code}"
    return participant


@router.get("/participants", response_model=list[ParticipantOut])
def list_participants(
    session: ReadSessionDep, _p: ReaderDep, role: Role | None = None, active: bool | None = None
) -> Any:
    """The directory of participants."""
    return repository.list_participants(session, role=role, active=active)


@router.get("/participants/{code}", response_model=ParticipantOut)
def get_participant(code: str, session: ReadSessionDep, _p: ReaderDep) -> Any:
    """One participant."""
    return participants_service.get_participant(session, code)


@router.patch("/participants/{code}", response_model=ParticipantOut)
def update_participant(code: str, body: ParticipantUpdate, session: SessionDep, _op: OperatorDep) -> Any:
    """Change a participant's name or contact (operator)."""
    return participants_service.update_participant(session, code, body)


@router.post("/participants/{code}/deactivate", response_model=ParticipantOut)
def deactivate_participant(code: str, session: SessionDep, _op: OperatorDep) -> Any:
    """Deactivate a participant; participants are never deleted (operator)."""
    return participants_service.deactivate_participant(session, code)


@router.post("/participants/{code}/keys", status_code=201, response_model=KeyOut)
def register_key(code: str, body: KeyCreate, session: SessionDep, _op: OperatorDep) -> Any:
    """Register a public signing key (operator)."""
    key = participants_service.register_key(
        session, code, body.jwk, not_before=body.not_before, not_after=body.not_after
    )
    return participants_service.key_out(key)


@router.get("/participants/{code}/keys", response_model=Jwks)
def list_keys(code: str, session: ReadSessionDep, _p: ReaderDep) -> Any:
    """The participant's keys as a JWK Set, revoked and expired ones included and marked."""
    return participants_service.jwks(session, code)


@router.post("/participants/{code}/keys/rotate", status_code=201, response_model=KeyOut)
def rotate_key(code: str, body: KeyRotation, session: SessionDep, principal: CurrentPrincipal) -> Any:
    """Add the participant's next key itself, proving possession of a current key and the new one."""
    principal.require("submit")
    if principal.code != code:
        raise Forbidden("a participant can only rotate its own keys", code="not-own-participant")
    return participants_service.key_out(
        participants_service.rotate_key(session, code, body.request, body.proof)
    )


@router.post("/participants/{code}/keys/{kid}/revoke", response_model=KeyOut)
def revoke_key(code: str, kid: str, body: KeyRevoke, session: SessionDep, principal: CurrentPrincipal) -> Any:
    """Revoke a key (the operator, or the participant itself for a compromised key)."""
    if principal.role == "operator":
        principal.require("admin")
    elif principal.code == code:
        principal.require("submit")
    else:
        raise Forbidden("only the operator or the key's owner may revoke it", code="not-own-participant")
    key = participants_service.revoke_key(session, code, kid, body.reason, revoked_at=body.revoked_at)
    return participants_service.key_out(key)


def _token_out(record: ApiToken) -> dict[str, Any]:
    return {
        "id": record.id,
        "participant": record.participant_code,
        "scopes": sorted(record.scope_set, key=("read", "submit", "admin").index),
        "description": record.description,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
        "last_used_at": record.last_used_at,
    }


@router.post("/tokens", status_code=201, response_model=TokenIssued, tags=["tokens"])
def issue_token(body: TokenCreate, session: SessionDep, _op: OperatorDep) -> Any:
    """Issue an API token; the token itself is in this response only (operator)."""
    issued = auth_service.issue_token(
        session,
        body.participant,
        list(body.scopes),
        expires_in_days=body.expires_in_days,
        description=body.description,
    )
    return {**_token_out(issued.record), "token": issued.token}


@router.get("/tokens", response_model=list[TokenOut], tags=["tokens"])
def list_tokens(
    session: ReadSessionDep, _op: OperatorDep, participant: str | None = Query(default=None)
) -> Any:
    """Tokens and their last use, without the secrets (operator)."""
    return [_token_out(t) for t in auth_service.list_tokens(session, participant)]


@router.post("/tokens/{token_id}/revoke", response_model=TokenOut, tags=["tokens"])
def revoke_token(token_id: str, session: SessionDep, _op: OperatorDep) -> Any:
    """Revoke a token at once (operator)."""
    return _token_out(auth_service.revoke_token(session, token_id))
