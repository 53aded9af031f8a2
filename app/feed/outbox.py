"""Writing feed events in the caller's transaction (the outbox side of the feed).

Besides the rows, ``append_events`` leaves two wake-up signals that cost the writer nothing:

- on PostgreSQL, ``pg_notify(FEED_CHANNEL, <last seq>)`` in the same transaction: PostgreSQL
  delivers a NOTIFY only when (and if) the transaction commits, so listeners in every process
  learn of new events exactly when they become readable (``app.feed.notifier``);
- in every process, ``session.info[PENDING_SEQ_KEY]`` = the highest seq written, which the
  notifier's ``after_commit`` hook on the application's sessionmaker turns into an in-process
  wake-up right after the commit (no polling delay for readers in the writer's process).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.db import insert_rows
from app.feed.models import FeedEvent, FeedHead

__all__ = [
    "EventDraft",
    "append_events",
    "document_event_type",
    "REMINDER_EVENT_TYPE",
    "FEED_CHANNEL",
    "PENDING_SEQ_KEY",
]

REMINDER_EVENT_TYPE = "org.lnx.reminder.v1"
FEED_CHANNEL = "lnx_feed"
PENDING_SEQ_KEY = "lnx_feed_pending_seq"


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
    insert_rows(session, FeedEvent.__table__, rows)
    session.execute(update(FeedHead).where(FeedHead.id == 1).values(next_seq=next_seq + len(rows)))
    last = rows[-1]["seq"]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(FEED_CHANNEL, str(last))))
    session.info[PENDING_SEQ_KEY] = max(session.info.get(PENDING_SEQ_KEY, 0), last)
    return [row["seq"] for row in rows]
