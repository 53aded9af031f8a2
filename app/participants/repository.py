"""Queries of the participants domain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import KeyedRead
from app.participants.models import Participant, ParticipantKey, key_valid_at

__all__ = [
    "KeyValidity",
    "get_participant",
    "list_participants",
    "get_key",
    "key_validity_read",
    "key_validities",
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


key_validity_read = KeyedRead(
    select(
        ParticipantKey.kid,
        ParticipantKey.participant_code,
        ParticipantKey.not_before,
        ParticipantKey.not_after,
        ParticipantKey.revoked_at,
    ),
    ParticipantKey.kid,
    "kids",
)
"""The validity of keys by a list of kids (a submission batch re-checks its keys; the read is sent
with the batch's others by ``app.db.read_together``)."""


def key_validities(rows: list[dict[str, Any]]) -> dict[str, KeyValidity]:
    """``key_validity_read``'s rows by kid (plain values: entities cost a batch three times the query)."""
    return {row["kid"]: KeyValidity(**row) for row in rows}


def list_keys(session: Session, code: str) -> list[ParticipantKey]:
    return list(
        session.scalars(
            select(ParticipantKey)
            .where(ParticipantKey.participant_code == code)
            .order_by(ParticipantKey.created_at, ParticipantKey.kid)
        )
    )
