"""One process-wide signal, "the feed may have grown", and the three things that raise it.

Readers (the stream hub, the webhook worker) never poll the database per client; they wait on
this notifier, and it is woken by:

1. **commits in this process** — ``outbox.append_events`` leaves the new seq in
   ``session.info``; an ``after_commit`` hook on the application's sessionmaker turns it into a
   wake-up within microseconds of the commit (the data is readable by then);
2. **PostgreSQL LISTEN** on ``lnx_feed`` — ``append_events`` issues ``pg_notify`` inside the
   writer's transaction, which PostgreSQL delivers at commit, so every process (other uvicorn
   workers, ``lnx worker``) learns of new events at once. One dedicated async psycopg connection
   per process, reconnecting with back-off;
3. **a head poll** — one background task per process (never per client) reads
   ``feed_head.next_seq`` every ``POLL_S`` (SQLite, or PostgreSQL while LISTEN is down) or
   ``SAFETY_POLL_S`` (PostgreSQL with LISTEN up, as a safety net for a lost connection).

Wake-ups are hints: consumers re-read the committed head from the database before acting, so a
spurious or early wake-up costs one cheap query and can never make anyone skip an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.feed import repository
from app.feed.outbox import FEED_CHANNEL, PENDING_SEQ_KEY
from app.feed.tx import transaction

__all__ = ["FeedNotifier", "POLL_S", "SAFETY_POLL_S"]

logger = logging.getLogger("lnx.feed.notifier")

POLL_S = 0.05
SAFETY_POLL_S = 1.0


class FeedNotifier:
    """Broadcasts "new events may exist" to any number of waiters in this event loop."""

    def __init__(self, factory: sessionmaker[Session], database_url: str, *, poll_s: float = POLL_S) -> None:
        self._factory = factory
        self._url = database_url
        self._poll_s = poll_s
        self._postgres = make_url(database_url).get_backend_name() == "postgresql"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.generation = 0
        self.head = 0
        """Highest seq known to be committed (from the database or a post-commit NOTIFY)."""
        self.listening = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lnx-feed-poll")

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.head = await asyncio.to_thread(self._read_head)
        event.listen(self._factory, "after_commit", self._after_commit)
        event.listen(self._factory, "after_rollback", self._after_rollback)
        self._tasks.append(asyncio.create_task(self._poll(), name="lnx-feed-head-poll"))
        if self._postgres:
            self._tasks.append(asyncio.create_task(self._listen(), name="lnx-feed-listen"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for name, fn in (("after_commit", self._after_commit), ("after_rollback", self._after_rollback)):
            if event.contains(self._factory, name, fn):
                event.remove(self._factory, name, fn)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.publish(None)  # release waiters so they notice the shutdown

    # --- signalling --------------------------------------------------------------------------

    def publish(self, seq: int | None) -> None:
        """Wake every waiter (call in the loop's thread); ``seq`` is a committed seq, if known."""
        if seq is not None and seq > self.head:
            self.head = seq
        self.generation += 1
        wake, self._wake = self._wake, asyncio.Event()
        wake.set()

    def publish_threadsafe(self, seq: int | None) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop shutting down
                loop.call_soon_threadsafe(self.publish, seq)

    async def wait(self, seen_generation: int, timeout: float) -> int:
        """Return the current generation once it differs from ``seen_generation`` (or on timeout)."""
        if self.generation != seen_generation:
            return self.generation
        wake = self._wake
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
        # races the wake-up, and a task waiting here in a loop would then never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await wake.wait()
        return self.generation

    # --- sources -----------------------------------------------------------------------------

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(PENDING_SEQ_KEY, None) is not None:
            # A hint only (a savepoint could have been rolled back): no seq, just "look now".
            self.publish_threadsafe(None)

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(PENDING_SEQ_KEY, None)

    def _read_head(self) -> int:
        with transaction(self._factory, read_only=True) as session:
            return repository.head_seq(session)

    async def _poll(self) -> None:
        while True:
            interval = SAFETY_POLL_S if self.listening else self._poll_s
            await asyncio.sleep(interval)
            try:
                head = await asyncio.get_running_loop().run_in_executor(self._executor, self._read_head)
            except Exception:  # noqa: BLE001 - a busy or restarting database: try again next tick
                logger.debug("feed head poll failed", exc_info=True)
                continue
            if head > self.head:
                self.publish(head)

    async def _listen(self) -> None:
        import psycopg

        conninfo = make_url(self._url).set(drivername="postgresql").render_as_string(hide_password=False)
        backoff = 0.2
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {FEED_CHANNEL}")
                    self.listening = True
                    backoff = 0.2
                    self.publish(None)  # anything committed while we were not listening
                    async for notify in conn.notifies():
                        self.publish(_seq_of(notify.payload))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - reconnect; the head poll covers the gap
                logger.warning("feed LISTEN connection lost; reconnecting", exc_info=True)
            finally:
                self.listening = False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)


def _seq_of(payload: Any) -> int | None:
    text = str(payload or "")
    return int(text) if text.isdigit() else None
