"""Queries of the participants domain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.participants.models import Participant, ParticipantKey, key_valid_at

__all__ = [
    "KeyValidity",
    "get_participant",
    "list_participants",
    "get_key",
    "get_key_validity",
    "list_keys",
    "participant_codes",
]


@dataclass(frozen=True, slots=True)
class KeyValidity:
    """What a write transaction re-checks of a key: its owner and validity (its material cannot change)."""

    kid: str
    participant_code: str
    not_before: datetime
    not_after: datetime | None
    revoked_at: datetime | None

    def is_valid_at(self, when: datetime) -> bool:
        return key_valid_at(self.not_before, self.not_after, self.revoked_at, when)


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


_KEY_VALIDITY_BY_KID = select(
    ParticipantKey.kid,
    ParticipantKey.participant_code,
    ParticipantKey.not_before,
    ParticipantKey.not_after,
    ParticipantKey.revoked_at,
).where(ParticipantKey.kid.in_(bindparam("kids", expanding=True)))
"""Built once: the submission batch runs it every time (see ``app.documents.repository``)."""


def get_key_validity(session: Session, kids: set[str]) -> dict[str, KeyValidity]:
    """The validity of several keys in one Core query (a submission batch re-checks its keys).

    Plain rows, not ORM entities: loading entities cost a batch about three times as much CPU as
    the query itself.
    """
    if not kids:
        return {}
    rows = session.connection().execute(_KEY_VALIDITY_BY_KID, {"kids": list(kids)})
    return {row.kid: KeyValidity(*row) for row in rows}


def list_keys(session: Session, code: str) -> list[ParticipantKey]:
    return list(
        session.scalars(
            select(ParticipantKey)
            .where(ParticipantKey.participant_code == code)
            .order_by(ParticipantKey.created_at, ParticipantKey.kid)
        )
    )
