"""The feed as one reader sees it: visible events after a cursor, rendered as CloudEvents.

Cursor semantics. Events carry a gap-free ``seq`` (see ``app.feed.outbox``); a cursor is a seq.
``events_after`` reads the committed head *first* and scans at most ``SCAN_WINDOW`` seqs past
the cursor, up to that head; ``next`` is the last seq *examined*, not the last one returned, so
a reader that may see none of the recent events still moves past them instead of scanning them
again on every poll. Because every seq at or below a committed head is itself committed,
nothing at or below ``next`` can appear later: no loss, no duplicate, on either database.

Services never commit; the caller owns the (read-only) transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.documents import views
from app.documents.models import Document
from app.documents.visibility import Access, entrusted_regimes
from app.feed import repository
from app.feed.events import Filters, RenderedEvent, cloud_event
from app.feed.models import FeedEvent

__all__ = [
    "SCAN_WINDOW",
    "events_after",
    "head",
    "render",
    "render_for",
    "principal_of",
    "RenderCache",
]

SCAN_WINDOW = 10_000
"""Most seqs one call examines, so a reader far behind (or seeing little) costs a bounded query."""


def head(session: Session) -> int:
    return repository.head_seq(session)


def render(session: Session, event: FeedEvent, document: Document | None, full: bool, now: datetime) -> bytes:
    """The CloudEvent bytes of ``event`` at the given access level (reminders carry their stored data)."""
    data: Any
    if event.addressee is not None or document is None:
        data = event.data
    else:
        data = views.view(session, document, Access.FULL if full else Access.METADATA, now)
    return orjson.dumps(cloud_event(event.seq, event.type, event.subject, event.time, data))


def events_after(
    session: Session,
    principal: Principal,
    after: int,
    limit: int,
    filters: Filters | None,
    *,
    now: datetime,
) -> tuple[list[RenderedEvent], int]:
    """Up to ``limit`` visible events past ``after`` in seq order, and the cursor to continue from."""
    committed = repository.head_seq(session)
    if after >= committed:
        return [], after
    hi = min(committed, after + SCAN_WINDOW)
    entrusted = entrusted_regimes(session, principal)
    rows = repository.visible_events(session, principal, entrusted, after, hi, filters, limit)
    events = [RenderedEvent(e.seq, render(session, e, d, full, now)) for e, d, full in rows]
    next_cursor = events[-1].seq if len(events) >= limit else hi
    return events, next_cursor


def principal_of(session: Session, code: str) -> Principal | None:
    """A principal standing for a participant outside a request (a webhook subscription's owner)."""
    participant = repository.participant(session, code)
    if participant is None or not participant.active:
        return None
    return Principal(code=participant.code, role=participant.role, token_id="", scopes=frozenset({"read"}))


class RenderCache:
    """Rendered event bodies by (seq, full?) for ``ttl_s``: the webhook worker's, across claims.

    The *decision* (may the owner read this event, in full or as metadata) is taken afresh for
    every delivery; only the bytes for a given access level are reused, so ten subscriptions
    receiving one event cost one rendering, not ten. A body may thus be up to ``ttl_s`` older
    than its delivery (a document's ``status`` or acknowledgements seen a moment earlier).
    """

    def __init__(self, ttl_s: float = 2.0, max_entries: int = 5000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[tuple[int, bool], tuple[bytes, float]] = {}

    def get(self, seq: int, full: bool) -> bytes | None:
        hit = self._entries.get((seq, full))
        if hit is None or hit[1] <= time.monotonic():
            return None
        return hit[0]

    def put(self, seq: int, full: bool, body: bytes) -> bytes:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[(seq, full)] = (body, time.monotonic() + self.ttl_s)
        return body


def render_for(
    session: Session,
    principal: Principal,
    seqs: Iterable[int],
    now: datetime,
    cache: RenderCache | None = None,
) -> dict[int, bytes | None]:
    """Each event as ``principal`` may read it *now*; ``None`` where it may no longer see it."""
    out: dict[int, bytes | None] = {}
    wanted = sorted(set(seqs))
    if not wanted:
        return out
    entrusted = entrusted_regimes(session, principal)

    def body(event: FeedEvent, document: Document | None, full: bool) -> bytes:
        if cache is None:
            return render(session, event, document, full, now)
        cached = cache.get(event.seq, full)
        return (
            cached
            if cached is not None
            else cache.put(event.seq, full, render(session, event, document, full, now))
        )

    # The access decision for all of them in one query, with the clauses of every read path.
    visible = repository.visible_among(session, principal, entrusted, wanted)
    for event, document in repository.events_with_seqs(session, wanted):
        if event.addressee is not None or document is None:
            mine = event.addressee == principal.code
            out[event.seq] = body(event, document, True) if mine else None
            continue
        full = visible.get(event.seq)
        out[event.seq] = None if full is None else body(event, document, full)
    return out
