"""The ledger of reminders already sent, so that each is sent once across restarts and workers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime

__all__ = ["ReportReminder"]


class ReportReminder(Base):
    """One reminder that was sent; the primary key is the claim a second sender collides with.

    The row is inserted in the same transaction as the reminder's feed event: both exist or neither.
    ``key`` says which occurrence (``2025:7d`` for a declaration due in 7 days, the document id of
    the notification version whose window closed for an overdue post-launch report).
    """

    __tablename__ = "report_reminders"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    participant: Mapped[str] = mapped_column(String(16), primary_key=True)
    regime: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
