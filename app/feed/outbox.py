"""Writing feed events in the caller's transaction (the outbox side of the feed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.feed.models import FeedEvent, FeedHead

__all__ = ["EventDraft", "append_events", "document_event_type", "REMINDER_EVENT_TYPE"]

REMINDER_EVENT_TYPE = "org.lnx.reminder.v1"


def document_event_type(document_type: str) -> str:
    return f"org.lnx.document.{document_type}.v1"


class EventDraft(dict[str, Any]):
    """Keys: type, subject, time, and document_id or addressee (+ data, issuer, regime)."""


def append_events(session: Session, drafts: Sequence[dict[str, Any]]) -> list[int]:
    """Allocate contiguous sequence numbers under the feed head's row lock and insert the events."""
    if not drafts:
        return []
    next_seq = session.execute(
        select(FeedHead.next_seq).where(FeedHead.id == 1).with_for_update()
    ).scalar_one()
    rows = []
    for offset, draft in enumerate(drafts):
        rows.append(
            {
                "seq": next_seq + offset,
                "type": draft["type"],
                "subject": draft["subject"],
                "time": draft["time"],
                "document_id": draft.get("document_id"),
                "addressee": draft.get("addressee"),
                "data": draft.get("data"),
                "issuer": draft.get("issuer"),
                "regime": draft.get("regime"),
            }
        )
    session.execute(insert(FeedEvent), rows)
    session.execute(update(FeedHead).where(FeedHead.id == 1).values(next_seq=next_seq + len(rows)))
    return [row["seq"] for row in rows]
