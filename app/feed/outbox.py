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

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import String, bindparam, cast, func, update
from sqlalchemy.orm import Session

from app.db import Prepared, Read, insert_rows, is_postgres, read_together
from app.feed.models import FeedEvent, FeedHead

__all__ = [
    "EventDraft",
    "allocation",
    "allocation_after",
    "append_events",
    "append_allocated",
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


_head = FeedHead.__table__
_advance = update(_head).where(_head.c.id == 1).values(next_seq=_head.c.next_seq + bindparam("count"))
_ALLOCATE = _advance.returning(_head.c.next_seq)
# The same, with the commit-time wake-up for listeners: PostgreSQL queues the NOTIFY in this
# transaction (payload: the last seq allocated), so it costs no statement of its own.
_ALLOCATE_AND_NOTIFY = _advance.returning(
    _head.c.next_seq, func.pg_notify(FEED_CHANNEL, cast(_head.c.next_seq - 1, String))
)
_ALLOCATE_AND_NOTIFY_DRIVER = Prepared(_ALLOCATE_AND_NOTIFY)
_ALLOCATE_DRIVER = Prepared(_ALLOCATE)


def allocation_after(cte: str) -> str:
    """PostgreSQL: the allocation of ``:events`` sequence numbers as a statement that follows the
    one-row CTE ``cte`` of another counter and returns its columns with ``next_seq``.

    Joined to that CTE's row, the UPDATE can lock the feed head only once the CTE has run, so
    the other counter's lock always comes first (``documents.repository.counters_read``).
    """
    return (
        f"UPDATE feed_head SET next_seq = feed_head.next_seq + :events FROM {cte} WHERE feed_head.id = 1"  # noqa: S608
        f" RETURNING {cte}.*, feed_head.next_seq, pg_notify('{FEED_CHANNEL}', CAST(feed_head.next_seq - 1 AS VARCHAR))"
    )


def allocation(session: Session, count: int) -> Read:
    """The statement that reserves ``count`` consecutive sequence numbers, for ``read_together``.

    For a caller that sends it together with other statements (a submission batch: with the log's
    counter, one round trip under both locks). Its rows go to ``append_allocated``. On PostgreSQL
    it also queues the commit-time NOTIFY.
    """
    if is_postgres(session):
        return _ALLOCATE_AND_NOTIFY_DRIVER(count=count)
    return _ALLOCATE_DRIVER(count=count)


def append_events(session: Session, drafts: Sequence[dict[str, Any]]) -> list[int]:
    """Allocate contiguous sequence numbers under the feed head's row lock and insert the events.

    One ``UPDATE ... RETURNING`` allocates them and keeps the head row locked until the
    transaction ends, so concurrent writers queue there and commit their events in seq order.
    """
    if not drafts:
        return []
    [allocated] = read_together(session, [allocation(session, len(drafts))])
    return append_allocated(session, drafts, allocated)


def append_allocated(
    session: Session, drafts: Sequence[dict[str, Any]], allocated: Sequence[Mapping[str, Any]]
) -> list[int]:
    """``append_events`` once ``allocation(session, len(drafts))`` has run: its rows in ``allocated``."""
    [row] = allocated
    next_seq = int(row["next_seq"]) - len(drafts)
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
    last = rows[-1]["seq"]
    session.info[PENDING_SEQ_KEY] = max(session.info.get(PENDING_SEQ_KEY, 0), last)
    return [row["seq"] for row in rows]
