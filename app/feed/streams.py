"""Long polls and Server-Sent Event streams on top of the hub.

Both follow one pattern: *catch up by query* (``service.events_after`` in the thread pool, one
bounded page at a time) until the cursor reaches the hub's head, then *wait in the hub* for
live events. Database work never runs on the event loop, and the per-client catch-up queries
share a small capacity limiter so a thousand reconnecting clients cannot starve the rest of
the API's thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import anyio
from sqlalchemy.orm import Session, sessionmaker

from app.auth.service import Principal
from app.config import Settings
from app.db import utcnow
from app.errors import BadRequest, ServiceUnavailable
from app.feed import repository, service
from app.feed.events import Filters, RenderedEvent, page_body
from app.feed.head import HeadProbe
from app.feed.hub import FeedHub, Waiter
from app.feed.notifier import FeedNotifier
from app.feed.tx import transaction

__all__ = ["FeedRuntime", "StreamSlots", "long_poll", "sse_stream", "TOKEN_RECHECK_S", "SSE_SEND_TIMEOUT_S"]

TOKEN_RECHECK_S = 60.0
"""How often an open stream re-checks that its token is still valid (revocation ends the stream)."""
SSE_SEND_TIMEOUT_S = 60.0
"""A stream whose socket accepts nothing for this long is closed."""
_CATCH_UP_PAGE = 200


class StreamSlots:
    """Caps concurrent streams and long polls per process; beyond it, 503 with ``Retry-After``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def acquire(self) -> Callable[[], None]:
        if self.used >= self.limit:
            raise ServiceUnavailable(
                "too many open streams and long polls on this server; retry shortly",
                code="too-many-streams",
                headers={"Retry-After": "5"},
            )
        self.used += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.used -= 1

        return release


@dataclass
class FeedRuntime:
    """The feed's per-process machinery, kept in ``app.state.feed``."""

    factory: sessionmaker[Session]
    settings: Settings
    notifier: FeedNotifier
    hub: FeedHub
    slots: StreamSlots
    limiter: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(8))
    token_recheck_s: float = TOKEN_RECHECK_S
    probe: HeadProbe | None = None

    def __post_init__(self) -> None:
        if self.probe is None:
            self.probe = HeadProbe(self.factory)

    @property
    def known_head(self) -> int:
        """The highest seq this process knows to be committed (no query)."""
        return max(self.hub.head, self.notifier.head)

    async def pull(
        self, principal: Principal, after: int, limit: int, filters: Filters
    ) -> tuple[list[RenderedEvent], int]:
        return await anyio.to_thread.run_sync(
            self._pull, principal, after, limit, filters, limiter=self.limiter
        )

    def _pull(
        self, principal: Principal, after: int, limit: int, filters: Filters
    ) -> tuple[list[RenderedEvent], int]:
        with transaction(self.factory, read_only=True) as session:
            return service.events_after(session, principal, after, limit, filters, now=utcnow())

    async def current_head(self) -> int:
        """The committed head, read after this call began (shared with concurrent callers)."""
        assert self.probe is not None
        return await self.probe.read()

    async def check_cursor(self, cursor: int) -> None:
        """400 for a cursor beyond the committed head: it was not issued by this exchange's feed
        (another exchange, a restored backup); waiting on it would silently skip events."""
        if cursor <= self.known_head:
            return
        if cursor > await self.current_head():
            raise BadRequest(
                "the cursor is ahead of this feed; it was not issued here", code="invalid-cursor"
            )

    async def token_valid(self, token_id: str) -> bool:
        def check() -> bool:
            with transaction(self.factory, read_only=True) as session:
                return repository.token_still_valid(session, token_id, utcnow())

        return await anyio.to_thread.run_sync(check, limiter=self.limiter)


async def _wait(waiter: Waiter, timeout: float) -> None:
    waiter.wake.clear()
    if waiter.items or waiter.state != "live" or timeout <= 0:
        return
    with contextlib.suppress(TimeoutError):  # asyncio.timeout: see FeedNotifier.wait
        async with asyncio.timeout(timeout):
            await waiter.wake.wait()


async def long_poll(
    runtime: FeedRuntime, principal: Principal, after: int, limit: int, wait_s: float, filters: Filters
) -> bytes:
    """``{events, next}``: visible events past ``after``; held up to ``wait_s`` until one exists."""
    hub = runtime.hub
    cursor = after
    if wait_s <= 0:
        # The hot path of a client polling an up-to-date cursor: no event past it is known here
        # and none was committed before this request (a shared head read): answer at once.
        if cursor >= runtime.known_head and cursor >= await runtime.current_head():
            return page_body((), cursor)
        events, cursor = await runtime.pull(principal, cursor, limit, filters)
        return page_body(events, cursor)
    deadline = time.monotonic() + wait_s
    while True:
        if cursor < hub.head:
            events, cursor = await runtime.pull(principal, cursor, limit, filters)
            if events:
                return page_body(events, cursor)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return page_body([], cursor)
        waiter = hub.register(principal, filters, cursor, capacity=limit)
        if waiter is None:
            if hub.closed:
                return page_body([], cursor)
            continue
        try:
            await _wait(waiter, remaining)
        finally:
            hub.unregister(waiter)
        if waiter.items:
            events = list(waiter.items)
            return page_body(events, waiter.cursor)
        if waiter.state == "closed":
            return page_body([], cursor)
        if waiter.state == "live":  # timed out: the hub may have scanned past invisible events
            return page_body([], max(cursor, waiter.cursor))
        # resync or overflow (more than ``limit`` at once): fetch by query from the cursor.


def _sse(event: RenderedEvent) -> bytes:
    return b"id: %d\ndata: %s\n\n" % (event.seq, event.body)


def _comment(text: str) -> bytes:
    return f": {text}\n\n".encode()


async def sse_stream(
    runtime: FeedRuntime,
    principal: Principal,
    cursor: int,
    filters: Filters,
    release: Callable[[], None],
) -> AsyncIterator[bytes]:
    """The body of ``GET /v1/stream``: ``id:`` = cursor, a comment every keepalive, bounded buffer."""
    settings = runtime.settings
    hub = runtime.hub
    keepalive = settings.sse_keepalive_s
    capacity = settings.sse_buffer_events
    page = min(capacity, _CATCH_UP_PAGE)
    waiter: Waiter | None = None
    last_comment = time.monotonic()
    next_token_check = last_comment + runtime.token_recheck_s
    try:
        yield b"retry: 1000\n" + _comment(f"lnx feed from {cursor}")
        while True:
            now = time.monotonic()
            if now - last_comment >= keepalive:
                last_comment = now
                yield _comment("keepalive")
            if now >= next_token_check:
                next_token_check = now + runtime.token_recheck_s
                if not await runtime.token_valid(principal.token_id):
                    yield _comment("token no longer valid")
                    return
            if waiter is None:
                if hub.closed:
                    return  # the server is shutting down; the client resumes elsewhere
                waiter = hub.register(principal, filters, cursor, capacity)
            if waiter is None:
                events, cursor = await runtime.pull(principal, cursor, page, filters)
                for event in events:
                    yield _sse(event)
                continue
            if waiter.items:
                event = waiter.items.popleft()
                cursor = event.seq
                yield _sse(event)
                continue
            if waiter.state == "overflow":
                yield _comment(f"too far behind; reconnect with Last-Event-ID {cursor}")
                return
            if waiter.state == "closed":
                return
            if waiter.state == "resync":
                hub.unregister(waiter)
                waiter = None
                continue
            cursor = max(cursor, waiter.cursor)
            await _wait(waiter, min(keepalive - (time.monotonic() - last_comment), next_token_check - now))
    finally:
        if waiter is not None:
            hub.unregister(waiter)
        release()
