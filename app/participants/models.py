"""Participants, their signing keys and their API tokens. Nothing here is ever deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

__all__ = ["Participant", "ParticipantKey", "ApiToken"]


class Participant(Base):
    __tablename__ = "participants"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    contact: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def key_valid_at(
    not_before: datetime, not_after: datetime | None, revoked_at: datetime | None, when: datetime
) -> bool:
    """A key signs validly from ``not_before`` until ``not_after`` or its revocation, whichever is first."""
    if when < not_before:
        return False
    if not_after is not None and when >= not_after:
        return False
    return revoked_at is None or when < revoked_at


class ParticipantKey(Base):
    """A registered public signing key (JWK). ``kid`` is its RFC 7638 thumbprint."""

    __tablename__ = "participant_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    participant_code: Mapped[str] = mapped_column(ForeignKey("participants.code"), index=True)
    jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    family: Mapped[str] = mapped_column(String(16))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    added_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def is_valid_at(self, when: datetime) -> bool:
        return key_valid_at(self.not_before, self.not_after, self.revoked_at, when)


class ApiToken(Base):
    """An opaque bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    participant_code: Mapped[str] = mapped_column(ForeignKey("participants.code"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(s for s in self.scopes.split(",") if s)


Index("ix_participant_keys_participant_created", ParticipantKey.participant_code, ParticipantKey.created_at)
