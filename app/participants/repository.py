"""Queries of the participants domain."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.participants.models import Participant, ParticipantKey

__all__ = ["get_participant", "list_participants", "get_key", "get_keys", "list_keys", "participant_codes"]


def get_participant(session: Session, code: str) -> Participant | None:
    return session.get(Participant, code)


def list_participants(
    session: Session, *, role: str | None = None, active: bool | None = None
) -> list[Participant]:
    query = select(Participant).order_by(Participant.code)
    if role:
        query = query.where(Participant.role == role)
    if active is not None:
        query = query.where(Participant.active == active)
    return list(session.scalars(query))


def participant_codes(session: Session, codes: set[str]) -> dict[str, Participant]:
    if not codes:
        return {}
    return {p.code: p for p in session.scalars(select(Participant).where(Participant.code.in_(codes)))}


def get_key(session: Session, kid: str) -> ParticipantKey | None:
    return session.get(ParticipantKey, kid)


_KEYS_BY_KID = select(ParticipantKey).where(ParticipantKey.kid.in_(bindparam("kids", expanding=True)))
"""Built once: the submission batch runs it every time (see ``app.documents.repository``)."""


def get_keys(session: Session, kids: set[str]) -> dict[str, ParticipantKey]:
    """Several keys by kid in one query (a submission batch re-checks all its keys at once)."""
    if not kids:
        return {}
    return {k.kid: k for k in session.scalars(_KEYS_BY_KID, {"kids": list(kids)})}


def list_keys(session: Session, code: str) -> list[ParticipantKey]:
    return list(
        session.scalars(
            select(ParticipantKey)
            .where(ParticipantKey.participant_code == code)
            .order_by(ParticipantKey.created_at, ParticipantKey.kid)
        )
    )
