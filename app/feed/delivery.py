"""The webhook delivery worker: fan-out of new events into deliveries, leased claims, signed POSTs.

Runs inside ``lnx serve`` (``settings.run_webhook_worker``) and alone as ``lnx worker``; any number
of them may share a database.

1. **Fan-out.** For each active subscription whose cursor (``last_seq``) is behind the feed,
   create one delivery row per event its owner may see (the visibility rule, via
   ``repository.matching_seqs``) and its filters match; advance the cursor. Subscription rows
   are locked (``SKIP LOCKED`` on PostgreSQL) so two workers never fan out the same range.
2. **Claim.** Due deliveries are leased (``locked_until`` + a random ``lease_token``) in a short
   write transaction — ``SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite.
3. **Attempt.** The body is rendered *now* with the owner's current access (a delivery for a
   document the owner may no longer read is ``skipped``), the URL passes the SSRF guard again,
   and the POST goes to the checked address with Standard Webhooks headers.
4. **Record.** Every attempt is stored. 2xx → ``delivered``; 410 → the subscription is disabled;
   429/503 with ``Retry-After`` → retried then; otherwise the next step of
   ``settings.webhook_schedule_s`` (±10 % jitter) or ``failed`` when it is exhausted; an endpoint
   failing for ``webhook_disable_after_s`` is disabled. The outcome is written only while the
   lease is still held; a worker killed mid-delivery leaves a lease that runs out, and the
   delivery is attempted again (at-least-once; receivers de-duplicate on ``webhook-id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
from lnx_client.core.webhooks import sign, signed_headers
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import utcnow
from app.documents.visibility import entrusted_regimes
from app.feed import repository, service, ssrf
from app.feed.events import Filters
from app.feed.models import Delivery, Subscription
from app.feed.notifier import FeedNotifier
from app.feed.tx import transaction

__all__ = ["DeliveryWorker", "Job", "Outcome", "FANOUT_SCAN", "MAX_RETRY_AFTER_S", "retry_after_seconds"]

logger = logging.getLogger("lnx.feed.delivery")
T = TypeVar("T")

FANOUT_SCAN = 1000
"""Most seqs fanned out per subscription per transaction (keeps write transactions short)."""
MAX_RETRY_AFTER_S = 24 * 3600.0
_RESPONSE_BYTES = 1024
_USER_AGENT = "lnx-webhooks/1.0"


@dataclass(frozen=True, slots=True)
class Job:
    delivery_id: int
    seq: int
    msg_id: str
    attempts: int
    schedule_index: int
    lease_token: str
    owner: str
    url: str
    secrets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int
    retry_after: float | None = None
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or HTTP-date, RFC 9110 §10.2.3), capped; else None."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER_S)


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
        self._lease = timedelta(seconds=2 * settings.webhook_timeout_s + 1)
        self._inflight: set[asyncio.Task[None]] = set()
        self._kick = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lnx-webhooks")
        self.delivered = 0
        self.last_error: str | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self._settings.webhook_timeout_s),
            limits=httpx.Limits(
                max_connections=self._concurrency, max_keepalive_connections=self._concurrency
            ),
            follow_redirects=False,
            trust_env=False,
        )
        self._task = asyncio.create_task(self._run(), name="lnx-webhook-worker")

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop claiming; give in-flight attempts ``grace_s`` to finish (their leases cover the rest)."""
        self._stopping = True
        self._kick.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._inflight:
            _done, pending = await asyncio.wait(set(self._inflight), timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self) -> None:
        seen = self._notifier.generation
        while not self._stopping:
            timeout = 1.0
            try:
                while await self._in_thread(self._fanout):
                    pass
                due_in = await self._in_thread(self._next_due_in)
                free = self._concurrency - len(self._inflight)
                if due_in is not None and due_in <= 0 and free > 0:
                    for job in await self._in_thread(self._claim, free):
                        task = asyncio.create_task(self._attempt(job))
                        self._inflight.add(task)
                        task.add_done_callback(self._finished)
                    due_in = await self._in_thread(self._next_due_in)
                if due_in is not None:
                    timeout = min(max(due_in, 0.005), 1.0)
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - the database may be restarting; keep trying
                logger.exception("webhook worker cycle failed")
                self.last_error = type(exc).__name__
            seen = await self._sleep(seen, timeout)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Database and DNS work on the worker's own threads, never the loop's default executor
        (which the submission path uses: webhook load must not delay submissions)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args))

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._kick.set()

    async def _sleep(self, seen: int, timeout: float) -> int:
        if self._stopping:
            return seen
        kick = asyncio.ensure_future(self._kick.wait())
        note = asyncio.ensure_future(self._notifier.wait(seen, timeout))
        await asyncio.wait({kick, note}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for future in (kick, note):
            future.cancel()
        await asyncio.gather(kick, note, return_exceptions=True)
        self._kick.clear()
        return self._notifier.generation

    # --- database steps (thread pool) ----------------------------------------------------------

    def _fanout(self) -> bool:
        """Create deliveries for one round of subscriptions; True if more work is waiting."""
        with transaction(self._factory, read_only=True) as session:
            # A read first: most cycles find nothing to do and need not queue for the write lock.
            if not repository.any_subscription_behind(session, repository.head_seq(session)):
                return False
        with transaction(self._factory) as session:
            head = repository.head_seq(session)
            subscriptions = repository.subscriptions_behind(session, head, limit=50)
            now = utcnow()
            more = len(subscriptions) == 50
            for subscription in subscriptions:
                hi = min(head, subscription.last_seq + FANOUT_SCAN)
                principal = service.principal_of(session, subscription.owner)
                if principal is not None:
                    filters = Filters(
                        tuple(subscription.types), tuple(subscription.issuers), tuple(subscription.regimes)
                    )
                    seqs = repository.matching_seqs(
                        session,
                        principal,
                        entrusted_regimes(session, principal),
                        subscription.last_seq,
                        hi,
                        filters,
                    )
                    repository.insert_deliveries(
                        session,
                        [
                            {
                                "subscription_id": subscription.id,
                                "seq": seq,
                                "msg_id": f"msg_{subscription.id[4:]}_{seq}",
                                "status": "pending",
                                "attempts": 0,
                                "schedule_index": 0,
                                "next_attempt_at": now,
                                "created_at": now,
                            }
                            for seq in seqs
                        ],
                    )
                subscription.last_seq = hi
                more = more or hi < head
            return more

    def _claim(self, limit: int) -> list[Job]:
        with transaction(self._factory) as session:
            now = utcnow()
            token = secrets.token_hex(8)
            jobs = []
            for delivery, subscription in repository.claim_due(session, now, now + self._lease, token, limit):
                keys = [subscription.secret]
                if subscription.previous_secret and (subscription.previous_secret_until or now) > now:
                    keys.append(subscription.previous_secret)
                jobs.append(
                    Job(
                        delivery_id=delivery.id,
                        seq=delivery.seq,
                        msg_id=delivery.msg_id,
                        attempts=delivery.attempts,
                        schedule_index=delivery.schedule_index,
                        lease_token=token,
                        owner=subscription.owner,
                        url=subscription.url,
                        secrets=tuple(keys),
                    )
                )
            return jobs

    def _next_due_in(self) -> float | None:
        """Seconds until the next delivery is due (<= 0: now), or None if nothing is pending."""
        with transaction(self._factory, read_only=True) as session:
            now = utcnow()
            due = repository.next_due_at(session, now)
            return None if due is None else (due - now).total_seconds()

    def _resolve(self, url: str) -> ssrf.Target:
        return ssrf.resolve_target(url, allow_private=self._settings.webhook_allow_private)

    def _render(self, job: Job) -> bytes | None:
        with transaction(self._factory, read_only=True) as session:
            principal = service.principal_of(session, job.owner)
            if principal is None:
                return None
            return service.render_for(session, principal, [job.seq], utcnow()).get(job.seq)

    def _record(self, job: Job, outcome: Outcome) -> None:
        settings = self._settings
        with transaction(self._factory) as session:
            now = utcnow()
            delivery = session.get(Delivery, job.delivery_id)
            if delivery is None:  # the subscription was deleted meanwhile
                return
            repository.add_attempt(
                session,
                delivery_id=job.delivery_id,
                number=job.attempts + 1,
                at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
            if delivery.lease_token != job.lease_token:
                return  # lease lost (expired and reclaimed, or redelivered): the holder decides
            subscription = session.get(Subscription, delivery.subscription_id)
            assert subscription is not None
            delivery.attempts = job.attempts + 1
            delivery.last_attempt_at = now
            delivery.last_status_code = outcome.status_code
            delivery.last_error = outcome.error
            delivery.locked_until = None
            delivery.lease_token = None
            if outcome.skipped:
                delivery.status, delivery.next_attempt_at = "skipped", None
            elif outcome.ok:
                delivery.status, delivery.next_attempt_at, delivery.delivered_at = "delivered", None, now
                subscription.failing_since = None
                subscription.last_success_at = now
            else:
                subscription.failing_since = subscription.failing_since or now
                if outcome.status_code == 410:
                    delivery.status, delivery.next_attempt_at = "failed", None
                    _disable(subscription, "the endpoint answered 410 Gone", now)
                    return
                delay = outcome.retry_after if outcome.status_code in (429, 503) else None
                if delay is None and delivery.schedule_index < len(settings.webhook_schedule_s):
                    delay = settings.webhook_schedule_s[delivery.schedule_index] * random.uniform(0.9, 1.1)
                    delivery.schedule_index += 1
                if delay is None:
                    delivery.status, delivery.next_attempt_at = "failed", None
                else:
                    delivery.next_attempt_at = now + timedelta(seconds=delay)
                failing_for = (now - subscription.failing_since).total_seconds()
                if failing_for >= settings.webhook_disable_after_s:
                    _disable(
                        subscription, f"the endpoint has been failing for {failing_for / 3600:.0f} h", now
                    )

    # --- HTTP ------------------------------------------------------------------------------------

    async def _attempt(self, job: Job) -> None:
        started = time.monotonic()
        try:
            outcome = await self._deliver(job, started)
        except Exception as exc:  # noqa: BLE001 - recorded as a failed attempt, retried on schedule
            logger.exception("webhook delivery %s crashed", job.delivery_id)
            outcome = Outcome(None, f"internal error: {type(exc).__name__}", _ms(started))
        try:
            await self._in_thread(self._record, job, outcome)
        except Exception:  # noqa: BLE001 - the lease runs out and the delivery is attempted again
            logger.exception("could not record webhook attempt %s", job.delivery_id)
        if outcome.ok:
            self.delivered += 1

    async def _deliver(self, job: Job, started: float) -> Outcome:
        body = await self._in_thread(self._render, job)
        if body is None:
            return Outcome(None, "the owner may no longer read this event", _ms(started), skipped=True)
        try:
            target = await self._in_thread(self._resolve, job.url)
        except ssrf.UnsafeUrl as exc:
            return Outcome(None, exc.message[:300], _ms(started))
        timestamp = int(time.time())
        headers = signed_headers(job.secrets[0], job.msg_id, timestamp, body)
        for extra in job.secrets[1:]:
            headers["webhook-signature"] += " " + sign(extra, job.msg_id, timestamp, body)
        url = httpx.URL(job.url)
        headers.update(
            {
                "content-type": "application/cloudevents+json; charset=utf-8",
                "user-agent": _USER_AGENT,
                "host": url.netloc.decode("ascii"),
            }
        )
        pinned = url.copy_with(host=target.address)
        extensions = {"sni_hostname": target.host} if url.scheme == "https" else {}
        assert self._client is not None
        try:
            async with asyncio.timeout(self._settings.webhook_timeout_s):
                async with self._client.stream(
                    "POST", pinned, content=body, headers=headers, extensions=extensions
                ) as response:
                    received = 0
                    async for chunk in response.aiter_raw():
                        received += len(chunk)
                        if received >= _RESPONSE_BYTES:
                            break
                    retry_after = retry_after_seconds(response.headers.get("retry-after"), utcnow())
                    status = response.status_code
        except TimeoutError:
            return Outcome(None, f"timed out after {self._settings.webhook_timeout_s:g} s", _ms(started))
        except httpx.HTTPError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:300], _ms(started))
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return Outcome(status, error, _ms(started), retry_after=retry_after)


def _disable(subscription: Subscription, reason: str, now: datetime) -> None:
    subscription.status = "disabled"
    subscription.disabled_reason = reason[:200]
    subscription.disabled_at = now
    subscription.updated_at = now


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
