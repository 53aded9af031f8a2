"""The webhook delivery worker: fan-out, leased claims, signed POSTs, group-committed outcomes.

Runs inside ``lnx serve`` (``settings.run_webhook_worker``) and alone as ``lnx worker``; any number
of them may share a database (see :mod:`app.feed.deliveries` for the database side).

One cycle, woken by the feed notifier (new events), by a finished attempt, or by the next due
time (at most a second away):

1. **fan out** new events into delivery rows (a read first; the write lock only when needed);
2. **claim** due deliveries under a lease (``SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
   SQLite) and render their bodies in one read transaction;
3. **deliver** each concurrently: the URL passes the SSRF guard again and the POST goes to the
   address that was checked, with Standard Webhooks headers, within ``webhook_timeout_s``;
4. **record** outcomes through one recorder task that commits every outcome waiting at that
   moment in a single transaction (one fsync for many deliveries, not one each).

At-least-once: a delivery is marked done only after a 2xx is recorded; a worker killed at any
point leaves a lease that runs out (``2 × timeout + 1 s``), after which any worker attempts the
delivery again with the same ``webhook-id``, which receivers use to drop duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from lnx_client.core.webhooks import sign, signed_headers
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import utcnow
from app.feed import deliveries, ssrf
from app.feed.deliveries import Job, Outcome, retry_after_seconds
from app.feed.notifier import FeedNotifier
from app.feed.service import RenderCache
from app.feed.subscriptions import SUBSCRIPTIONS_CHANGED
from app.feed.tx import transaction

__all__ = ["DeliveryWorker"]

logger = logging.getLogger("lnx.feed.delivery")
T = TypeVar("T")

_RESPONSE_BYTES = 1024
_USER_AGENT = "lnx-webhooks/1.0"
_RECORD_BATCH = 500
_CONNECTIONS_PER_CLIENT = 4
"""httpcore scans every pooled connection on each request (O(pool) per request: with 32
connections in one pool, 3.5 ms of CPU per POST here); so the worker spreads its slots over
several small connection pools, a subscription always using the same one."""
_URL_CACHE = 1000
IDLE_RECHECK_S = 1.0
"""With no active subscription, how often the worker looks again (no query per feed event)."""
PRUNE_INTERVAL_S = 600.0


class DeliveryWorker:
    """Fans out, claims and delivers webhook events until stopped."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        notifier: FeedNotifier,
        *,
        concurrency: int = 32,
    ) -> None:
        self._factory = factory
        self._settings = settings
        self._notifier = notifier
        self._concurrency = concurrency
        self._per_subscription = settings.webhook_subscription_concurrency
        self._lease = timedelta(seconds=2 * settings.webhook_timeout_s + 1)
        self._inflight: set[asyncio.Task[None]] = set()
        self._busy: dict[str, int] = {}
        """subscription id -> its claimed attempts here, in flight or ready (the per-subscription cap)."""
        self._bodies = RenderCache()
        self._ready: deque[tuple[Job, bytes | None, float]] = deque()
        self._prefetch = concurrency // 2
        # A claimed delivery still waiting after this long has too little lease left to start.
        self._max_wait_s = self._lease.total_seconds() - settings.webhook_timeout_s - 1
        self._active: bool | None = None
        self._active_checked = 0.0
        self._pokes = 0
        self._fanned_out_at = -1
        self._fan_out_due = True
        self._claim_now = False
        self._next_prune = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outcomes: asyncio.Queue[tuple[Job, Outcome]] = asyncio.Queue()
        self._kick = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._pools: list[httpx.AsyncHTTPTransport] = []
        self._timeouts: dict[str, float] = {}
        self._literals: dict[str, ssrf.Target] = {}
        self._urls: dict[tuple[str, str], tuple[httpx.URL, str]] = {}
        # Database and DNS work run on the worker's own threads, never the loop's default executor,
        # which the submission path uses: webhook load must not delay submissions.
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lnx-webhooks")
        self._dns = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lnx-webhooks-dns")
        self.delivered = 0
        self.last_error: str | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        per_client = min(_CONNECTIONS_PER_CLIENT, self._concurrency)
        self._pools = [
            # The transport (connection pool) itself, not an AsyncClient around it: the client's
            # layers (auth, redirects, cookies, URL merging) cost a third of the CPU per POST
            # and the worker needs none of them (redirects are never followed anyway).
            httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client),
                trust_env=False,
            )
            for _ in range(-(-self._concurrency // per_client))
        ]
        timeout = self._settings.webhook_timeout_s
        self._timeouts = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
        event.listen(self._factory, "after_commit", self._after_commit)
        self._tasks = [
            asyncio.create_task(self._run(), name="lnx-webhook-worker"),
            asyncio.create_task(self._recorder(), name="lnx-webhook-recorder"),
        ]

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop claiming; give in-flight attempts ``grace_s`` to finish and be recorded."""
        self._stopping = True
        self._kick.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._tasks[0]
        if self._inflight:
            _done, pending = await asyncio.wait(set(self._inflight), timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._outcomes.join(), timeout=max(grace_s, 1.0))
        self._tasks[1].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._tasks[1]
        if event.contains(self._factory, "after_commit", self._after_commit):
            event.remove(self._factory, "after_commit", self._after_commit)
        for pool in self._pools:
            await pool.aclose()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._dns.shutdown(wait=False, cancel_futures=True)

    # --- the cycle -------------------------------------------------------------------------------

    def poke(self) -> None:
        """Subscriptions changed (in this process): look again now, not at the next recheck."""
        self._active = None
        self._pokes += 1
        self._kick.set()

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(SUBSCRIPTIONS_CHANGED, False) and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # loop closed: shutting down
                self._loop.call_soon_threadsafe(self.poke)

    async def _has_subscriptions(self) -> bool:
        """Cached "is any subscription active": rechecked once a second, or when poked."""
        now = time.monotonic()
        if self._active is None or now - self._active_checked >= IDLE_RECHECK_S:
            pokes = self._pokes
            active = await self._in_thread(self._read, _any_active)
            # Poked while reading: the read may predate that commit, so read again next time.
            self._active = active if pokes == self._pokes else None
            self._active_checked = now
            # A subscription re-enabled elsewhere is behind the feed without any new event.
            self._fan_out_due = True
            return active
        return self._active

    async def _run(self) -> None:
        seen = self._notifier.generation
        while not self._stopping:
            timeout = IDLE_RECHECK_S
            active = False
            try:
                await self._maybe_prune()
                active = await self._has_subscriptions()
                if active:
                    timeout = await self._cycle(seen)
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - the database may be restarting; keep trying
                logger.exception("webhook worker cycle failed")
                self.last_error = type(exc).__name__
            seen = await self._sleep(seen, timeout, follow_feed=active)

    async def _cycle(self, generation: int) -> float:
        """Fan out (only if the feed may have grown), claim what the free slots allow; the sleep."""
        if generation != self._fanned_out_at or self._fan_out_due:
            self._fanned_out_at, self._fan_out_due = generation, False
            while await self._in_thread(self._fan_out):
                pass
            self._claim_now = True  # new rows may be due at once
        self._start_ready()
        # Claim in batches, ahead of need: up to half the slots' worth of claimed deliveries wait
        # in ``_ready`` and start the moment a slot frees (in ``_finished``), so the next claim
        # transaction runs while the current attempts are in flight instead of after them.
        want = self._concurrency + self._prefetch - len(self._inflight) - len(self._ready)
        idle = not self._inflight and not self._ready
        if self._stopping or want <= 0 or (want < max(1, self._concurrency // 4) and not idle):
            return IDLE_RECHECK_S  # a claim follows when enough slots are free (each end kicks)
        if not self._claim_now:
            # Not known to be due: a read first (a claim is a write transaction).
            due_in = await self._in_thread(self._read, deliveries.next_due_in)
            if due_in is None or due_in > 0:
                return IDLE_RECHECK_S if due_in is None else min(due_in, IDLE_RECHECK_S)
        jobs, bodies = await self._in_thread(self._claim, want, dict(self._busy))
        claimed_at = time.monotonic()
        for job in jobs:
            self._busy[job.subscription_id] = self._busy.get(job.subscription_id, 0) + 1
            self._ready.append((job, bodies.get(job.delivery_id), claimed_at))
        self._start_ready()
        self._claim_now = len(jobs) == want  # a full claim: more may be due at once
        # Otherwise what is due was claimed, or is held back by the per-subscription cap or by
        # another worker's lock: a finished attempt, a new event or the recheck brings the next
        # claim (never a busy loop of claims that get nothing).
        return 0.0 if self._claim_now else IDLE_RECHECK_S

    def _start_ready(self) -> None:
        """Start claimed deliveries while slots are free (called in the loop)."""
        while self._ready and len(self._inflight) < self._concurrency and not self._stopping:
            job, body, claimed_at = self._ready.popleft()
            if time.monotonic() - claimed_at > self._max_wait_s:
                # Not enough of its lease left for a full attempt: let the lease run out, and the
                # delivery is claimed again (by any worker) rather than sent twice at once.
                self._release(job.subscription_id)
                continue
            task = asyncio.create_task(self._attempt(job, body))
            task.add_done_callback(functools.partial(self._finished, job.subscription_id))
            self._inflight.add(task)

    def _release(self, subscription_id: str) -> None:
        left = self._busy.get(subscription_id, 0) - 1
        if left > 0:
            self._busy[subscription_id] = left
        else:
            self._busy.pop(subscription_id, None)

    async def _maybe_prune(self) -> None:
        retention_days = self._settings.webhook_retention_days
        if retention_days <= 0 or time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_INTERVAL_S
        retention = timedelta(days=retention_days)
        pruned = 0
        while not self._stopping:
            count = await self._in_thread(self._prune, retention)
            pruned += count
            if count < deliveries.PRUNE_PAGE:
                break
        if pruned:
            logger.info("pruned %d finished webhook deliveries", pruned)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args))

    def _finished(self, subscription_id: str, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._release(subscription_id)
        self._start_ready()
        self._kick.set()

    async def _sleep(self, seen: int, timeout: float, *, follow_feed: bool = True) -> int:
        """Until a kick, a new feed event (``follow_feed``) or ``timeout``; the feed's generation.

        With no active subscription the feed is not followed: every batch of submissions
        notifies every process, and a wake-up per batch that finds nothing to fan out cost each
        worker a task switch and two futures for nothing. The recheck (``IDLE_RECHECK_S``) and
        a kick (a subscription changed in this process) still wake it; a subscription created
        elsewhere is seen at the next recheck and fans out from where the feed then is.
        """
        if self._stopping:
            return seen
        kick = asyncio.ensure_future(self._kick.wait())
        waits = {kick}
        if follow_feed:
            waits.add(asyncio.ensure_future(self._notifier.wait(seen, timeout)))
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for future in waits:
            future.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        self._kick.clear()
        return self._notifier.generation

    # --- transactions (worker threads) -------------------------------------------------------------

    def _read(self, fn: Callable[[Session, Any], T]) -> T:
        with transaction(self._factory, read_only=True) as session:
            return fn(session, utcnow())

    def _fan_out(self) -> bool:
        with transaction(self._factory, read_only=True) as session:
            if not deliveries.any_work(session):
                return False
        with transaction(self._factory) as session:
            return deliveries.fan_out(session, utcnow())

    def _claim(self, limit: int, busy: dict[str, int]) -> tuple[list[Job], dict[int, bytes | None]]:
        with transaction(self._factory) as session:
            jobs = deliveries.claim(
                session,
                utcnow(),
                self._lease,
                limit,
                per_subscription=self._per_subscription,
                in_flight=busy,
            )
        if not jobs:
            return [], {}
        with transaction(self._factory, read_only=True) as session:
            return jobs, deliveries.render_jobs(session, jobs, utcnow(), self._bodies)

    def _record(self, batch: list[tuple[Job, Outcome]]) -> None:
        with transaction(self._factory) as session:
            deliveries.record_batch(session, batch, self._settings, utcnow())

    def _prune(self, retention: timedelta) -> int:
        with transaction(self._factory) as session:
            return deliveries.prune(session, utcnow(), retention)

    async def _recorder(self) -> None:
        while True:
            batch = [await self._outcomes.get()]
            while len(batch) < _RECORD_BATCH and not self._outcomes.empty():
                batch.append(self._outcomes.get_nowait())
            try:
                await self._in_thread(self._record, batch)
                self.delivered += sum(1 for _job, outcome in batch if outcome.ok)
            except Exception:  # noqa: BLE001 - unrecorded: the leases run out and they are attempted again
                logger.exception("could not record %d webhook attempts", len(batch))
            finally:
                for _ in batch:
                    self._outcomes.task_done()
                self._kick.set()

    # --- HTTP ------------------------------------------------------------------------------------

    async def _attempt(self, job: Job, body: bytes | None) -> None:
        started = time.monotonic()
        try:
            outcome = await self._deliver(job, body, started)
        except Exception as exc:  # noqa: BLE001 - recorded as a failed attempt, retried on schedule
            logger.exception("webhook delivery %s crashed", job.delivery_id)
            outcome = Outcome(None, f"internal error: {type(exc).__name__}", _ms(started))
        self._outcomes.put_nowait((job, outcome))

    async def _resolve(self, url: str) -> ssrf.Target:
        """The SSRF check; a name lookup runs on the DNS threads, an address literal needs none.

        The check of an address literal never changes, so it is remembered (names are looked up
        again for every delivery: DNS can change).
        """
        literal = self._literals.get(url)
        if literal is not None:
            return literal
        resolve = functools.partial(ssrf.resolve_target, allow_private=self._settings.webhook_allow_private)
        if ssrf.is_literal(url):
            target = resolve(url)
            if len(self._literals) >= _URL_CACHE:
                self._literals.clear()
            self._literals[url] = target
            return target
        return await asyncio.get_running_loop().run_in_executor(self._dns, resolve, url)

    def _request_url(self, url: str, address: str) -> tuple[httpx.URL, str]:
        """The URL pinned to the checked address, and the Host header (parsed once per pair)."""
        key = (url, address)
        known = self._urls.get(key)
        if known is None:
            parsed = httpx.URL(url)
            known = (parsed.copy_with(host=address), parsed.netloc.decode("ascii"))
            if len(self._urls) >= _URL_CACHE:
                self._urls.clear()
            self._urls[key] = known
        return known

    async def _deliver(self, job: Job, body: bytes | None, started: float) -> Outcome:
        if body is None:
            return Outcome(None, "the owner may no longer read this event", _ms(started), skipped=True)
        try:
            target = await self._resolve(job.url)
        except ssrf.UnsafeUrl as exc:
            return Outcome(None, exc.message[:300], _ms(started))
        timestamp = int(time.time())
        headers = signed_headers(job.secrets[0], job.msg_id, timestamp, body)
        for extra in job.secrets[1:]:  # the previous secret during a rotation's grace period
            headers["webhook-signature"] += " " + sign(extra, job.msg_id, timestamp, body)
        pinned, host = self._request_url(job.url, target.address)  # connect to the checked address
        headers.update(
            {
                "content-type": "application/cloudevents+json; charset=utf-8",
                "user-agent": _USER_AGENT,
                "host": host,
            }
        )
        extensions: dict[str, Any] = {"timeout": self._timeouts}
        if pinned.scheme == "https":
            extensions["sni_hostname"] = target.host
        request = httpx.Request("POST", pinned, content=body, headers=headers, extensions=extensions)
        pool = self._pools[zlib.crc32(job.subscription_id.encode()) % len(self._pools)]
        try:
            async with asyncio.timeout(self._settings.webhook_timeout_s):
                response = await pool.handle_async_request(request)
                try:
                    received = 0
                    async for chunk in response.aiter_raw():
                        received += len(chunk)
                        if received >= _RESPONSE_BYTES:
                            break
                    retry_after = retry_after_seconds(response.headers.get("retry-after"), utcnow())
                    status = response.status_code
                finally:
                    await response.aclose()
        except TimeoutError:
            return Outcome(None, f"timed out after {self._settings.webhook_timeout_s:g} s", _ms(started))
        except httpx.HTTPError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:300], _ms(started))
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return Outcome(status, error, _ms(started), retry_after=retry_after)


def _any_active(session: Session, _now: object) -> bool:
    return deliveries.any_active(session)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
