"""Agreement profiles (regimes), their members and the auditors their members entrust."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

__all__ = ["Regime", "RegimeMembership", "RegimeAuditor"]


class Regime(Base):
    __tablename__ = "regimes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    multilateral: Mapped[bool] = mapped_column(Boolean, default=True)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    sources: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RegimeMembership(Base):
    """One membership period; leaving closes it (``left_at``), rejoining opens a new one."""

    __tablename__ = "regime_memberships"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    regime_id: Mapped[str] = mapped_column(ForeignKey("regimes.id"))
    participant_code: Mapped[str] = mapped_column(ForeignKey("participants.code"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RegimeAuditor(Base):
    """An auditor that a regime's members entrust with reading its documents in full."""

    __tablename__ = "regime_auditors"

    regime_id: Mapped[str] = mapped_column(ForeignKey("regimes.id"), primary_key=True)
    participant_code: Mapped[str] = mapped_column(ForeignKey("participants.code"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Index(
    "ix_regime_memberships_regime_participant", RegimeMembership.regime_id, RegimeMembership.participant_code
)
Index("ix_regime_memberships_participant", RegimeMembership.participant_code)
