"""The stream hub: one reader of new events per process, fanning them out to every open stream
and held long poll.

Why: a thousand SSE clients each querying the database on every new event would cost a thousand
queries and a thousand renderings per event. The hub reads each new page of events once,
asks the visibility rule once per *distinct participant* among the waiting clients (the same
``app.documents.visibility`` clauses as every read path), renders each event once per access
level, and hands the pre-serialised bytes to each client's bounded buffer.

Correctness. The hub's ``head`` is the highest seq it has dispatched. A client may join only
with a cursor at or past ``head`` (a client behind it first catches up by querying, see
``app.feed.streams``); from then on it receives every visible event past its cursor, in order,
once. A client that joined while a page was being read for a set of participants that did not
include its own is told to *resync* (catch up by query again) rather than risk a gap.

Memory. Each client's buffer holds at most ``capacity`` events; a client that cannot keep up
(its socket is not draining) is marked *overflowed* and its stream is closed, so the server's
memory never grows with a slow reader. The client resumes from its last event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from app.auth.service import Principal
from app.db import utcnow
from app.documents.visibility import entrusted_regimes
from app.feed import repository
from app.feed.events import Filters, RenderedEvent
from app.feed.notifier import FeedNotifier
from app.feed.service import render
from app.feed.tx import transaction

__all__ = ["FeedHub", "Waiter", "HUB_PAGE"]

logger = logging.getLogger("lnx.feed.hub")

HUB_PAGE = 500
"""Most events the hub reads and renders in one go."""

_Key = tuple[str, str]


@dataclass(eq=False, slots=True)
class Waiter:
    """One open stream or held long poll, as the hub sees it."""

    principal: Principal
    filters: Filters
    cursor: int
    """Every event at or below this seq has been considered for this waiter."""
    capacity: int
    items: deque[RenderedEvent] = field(default_factory=deque)
    state: str = "live"
    """``live``, ``overflow`` (buffer full: close), ``resync`` (catch up by query), ``closed``."""
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def key(self) -> _Key:
        return (self.principal.code, self.principal.role)

    def end(self, state: str) -> None:
        self.state = state
        self.wake.set()


@dataclass(slots=True)
class _Batch:
    lo: int
    hi: int
    committed: int
    events: list[tuple[int, str, str | None, str | None]]
    rendered: dict[int, tuple[bytes | None, bytes | None]]
    visible: dict[_Key, dict[int, bool]]


class FeedHub:
    """Reads new events once per process and dispatches them to the registered waiters."""

    def __init__(
        self, factory: sessionmaker[Session], notifier: FeedNotifier, *, page: int = HUB_PAGE
    ) -> None:
        self._factory = factory
        self._notifier = notifier
        self._page = page
        self._waiters: set[Waiter] = set()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # Its own thread: a page of new events is read without queueing behind the submission
        # batcher and the log integrator in the loop's default executor.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lnx-feed-hub")
        self.head = 0

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def start(self) -> None:
        self.head = self._notifier.head
        self._task = asyncio.create_task(self._run(), name="lnx-feed-hub")

    async def stop(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for waiter in list(self._waiters):
            waiter.end("closed")
        self._waiters.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def register(self, principal: Principal, filters: Filters, cursor: int, capacity: int) -> Waiter | None:
        """Join the live fan-out at ``cursor``; ``None`` if the hub is already past it (catch up first)."""
        if self._closed or cursor < self.head:
            return None
        waiter = Waiter(principal=principal, filters=filters, cursor=cursor, capacity=capacity)
        self._waiters.add(waiter)
        return waiter

    def unregister(self, waiter: Waiter) -> None:
        self._waiters.discard(waiter)

    async def _run(self) -> None:
        seen = self._notifier.generation
        while not self._closed:
            seen = await self._notifier.wait(seen, timeout=1.0)
            try:
                await self._advance()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep serving; waiters catch up by query meanwhile
                logger.exception("feed hub could not read new events")
                for waiter in list(self._waiters):
                    self._waiters.discard(waiter)
                    waiter.end("resync")
                await asyncio.sleep(0.2)

    async def _advance(self) -> None:
        if not self._waiters:
            # Nobody to serve: follow the notified head without a database read. Every batch of
            # submissions notifies every worker, and the read cost each of them a pool checkout and
            # three round trips per batch. A notified head is never ahead of a commit (NOTIFY is
            # delivered at commit), and a waiter joining at or after it is served from here on.
            self.head = max(self.head, self._notifier.head)
            return
        while True:
            principals = {w.key: w.principal for w in self._waiters}
            batch = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._fetch, self.head, principals
            )
            if batch.hi > self.head:
                self._dispatch(batch)
                self.head = batch.hi
            if batch.hi >= batch.committed:
                return

    def _fetch(self, lo: int, principals: dict[_Key, Principal]) -> _Batch:
        with transaction(self._factory, read_only=True) as session:
            committed = repository.head_seq(session)
            hi = min(committed, lo + self._page)
            if hi <= lo or not principals:
                # Nobody to serve: follow the head without reading events.
                return _Batch(lo, max(lo, committed), committed, [], {}, {})
            visible = {
                key: repository.visible_seqs(session, p, entrusted_regimes(session, p), lo, hi)
                for key, p in principals.items()
            }
            need_full = {s for v in visible.values() for s, full in v.items() if full}
            need_meta = {s for v in visible.values() for s, full in v.items() if not full}
            now = utcnow()
            events: list[tuple[int, str, str | None, str | None]] = []
            rendered: dict[int, tuple[bytes | None, bytes | None]] = {}
            for event, document in repository.events_between(session, lo, hi):
                events.append((event.seq, event.type, event.issuer, event.regime))
                if event.seq in need_full or event.seq in need_meta:
                    rendered[event.seq] = (
                        render(session, event, document, True, now) if event.seq in need_full else None,
                        render(session, event, document, False, now) if event.seq in need_meta else None,
                    )
            return _Batch(lo, hi, committed, events, rendered, visible)

    def _dispatch(self, batch: _Batch) -> None:
        for waiter in list(self._waiters):
            seen = batch.visible.get(waiter.key)
            if seen is None:
                if waiter.cursor < batch.hi:
                    # Joined while this page was read for other participants: catch up by query.
                    self._waiters.discard(waiter)
                    waiter.end("resync")
                continue
            new: list[RenderedEvent] = []
            for seq, type_, issuer, regime in batch.events:
                if (
                    seq <= waiter.cursor
                    or seq not in seen
                    or not waiter.filters.matches(type_, issuer, regime)
                ):
                    continue
                full_body, meta_body = batch.rendered[seq]
                body = full_body if seen[seq] else meta_body
                assert body is not None
                new.append(RenderedEvent(seq, body))
            if new and len(waiter.items) + len(new) > waiter.capacity:
                self._waiters.discard(waiter)
                waiter.end("overflow")
                continue
            waiter.cursor = max(waiter.cursor, batch.hi)
            if new:
                waiter.items.extend(new)
                waiter.wake.set()
