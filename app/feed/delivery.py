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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from lnx_client.core.webhooks import sign, signed_headers
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import utcnow
from app.feed import deliveries, ssrf
from app.feed.deliveries import Job, Outcome, retry_after_seconds
from app.feed.notifier import FeedNotifier
from app.feed.tx import transaction

__all__ = ["DeliveryWorker"]

logger = logging.getLogger("lnx.feed.delivery")
T = TypeVar("T")

_RESPONSE_BYTES = 1024
_USER_AGENT = "lnx-webhooks/1.0"
_RECORD_BATCH = 500


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
        self._outcomes: asyncio.Queue[tuple[Job, Outcome]] = asyncio.Queue()
        self._kick = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        # Database and DNS work run on the worker's own threads, never the loop's default executor,
        # which the submission path uses: webhook load must not delay submissions.
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lnx-webhooks")
        self._dns = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lnx-webhooks-dns")
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
        if self._client is not None:
            await self._client.aclose()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._dns.shutdown(wait=False, cancel_futures=True)

    # --- the cycle -------------------------------------------------------------------------------

    async def _run(self) -> None:
        seen = self._notifier.generation
        while not self._stopping:
            timeout = 1.0
            try:
                while await self._in_thread(self._fan_out):
                    pass
                due_in = await self._in_thread(self._read, deliveries.next_due_in)
                free = self._concurrency - len(self._inflight)
                if due_in is not None and due_in <= 0 and free > 0:
                    jobs, bodies = await self._in_thread(self._claim, free)
                    for job in jobs:
                        task = asyncio.create_task(self._attempt(job, bodies.get(job.delivery_id)))
                        self._inflight.add(task)
                        task.add_done_callback(self._finished)
                    due_in = await self._in_thread(self._read, deliveries.next_due_in)
                if due_in is not None:
                    timeout = min(max(due_in, 0.005), 1.0)
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - the database may be restarting; keep trying
                logger.exception("webhook worker cycle failed")
                self.last_error = type(exc).__name__
            seen = await self._sleep(seen, timeout)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
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

    def _claim(self, limit: int) -> tuple[list[Job], dict[int, bytes | None]]:
        with transaction(self._factory) as session:
            jobs = deliveries.claim(session, utcnow(), self._lease, limit)
        if not jobs:
            return [], {}
        with transaction(self._factory, read_only=True) as session:
            return jobs, deliveries.render_jobs(session, jobs, utcnow())

    def _record(self, batch: list[tuple[Job, Outcome]]) -> None:
        with transaction(self._factory) as session:
            now = utcnow()
            for job, outcome in batch:
                deliveries.record(session, job, outcome, self._settings, now)

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
        """The SSRF check; a name lookup runs on the DNS threads, an address literal needs none."""
        resolve = functools.partial(ssrf.resolve_target, allow_private=self._settings.webhook_allow_private)
        if ssrf.is_literal(url):
            return resolve(url)
        return await asyncio.get_running_loop().run_in_executor(self._dns, resolve, url)

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
        url = httpx.URL(job.url)
        headers.update(
            {
                "content-type": "application/cloudevents+json; charset=utf-8",
                "user-agent": _USER_AGENT,
                "host": url.netloc.decode("ascii"),
            }
        )
        pinned = url.copy_with(host=target.address)  # connect to the address that was checked
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


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
