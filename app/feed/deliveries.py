"""The database side of webhook delivery: fan-out, leased claims, rendering and recording outcomes.

Every function here takes the caller's session and never commits; the worker
(:mod:`app.feed.delivery`) owns the transactions, so it can record a whole batch of outcomes in
one durable commit. The retry policy lives in :func:`record`:

- 2xx → ``delivered``; the subscription's failure streak (``failing_since``) ends;
- 410 Gone → ``failed`` and the subscription is disabled (the receiver said it is gone);
- 429/503 with ``Retry-After`` → attempted again then (capped at a day);
- anything else → the next step of ``settings.webhook_schedule_s`` (±10 % jitter, so receivers
  that fail together are not retried together), ``failed`` once the schedule is exhausted;
- a subscription whose failure streak has lasted ``webhook_disable_after_s`` is disabled.

An outcome is applied only while the attempt's lease is still held (``lease_token``); an attempt
whose lease ran out (its worker was slow or killed) is logged but decides nothing.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from sqlalchemy.orm import Session

from app.config import Settings
from app.documents.visibility import entrusted_regimes
from app.feed import repository, service
from app.feed.events import Filters
from app.feed.models import Delivery, Subscription

__all__ = [
    "FANOUT_SCAN",
    "MAX_RETRY_AFTER_S",
    "Job",
    "Outcome",
    "fan_out",
    "claim",
    "render_jobs",
    "record",
    "record_batch",
    "any_active",
    "prune",
    "PRUNE_PAGE",
    "next_due_in",
    "retry_after_seconds",
]

FANOUT_SCAN = 1000
"""Most seqs fanned out per subscription per transaction (keeps write transactions short)."""
MAX_RETRY_AFTER_S = 24 * 3600.0
CLAIM_WINDOW = 1000
"""Due deliveries a claim looks at to fill its slots under the per-subscription cap."""
PRUNE_PAGE = 5000
"""Most finished deliveries deleted per transaction (keeps SQLite's write lock short)."""
_FANOUT_SUBSCRIPTIONS = 50


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed delivery attempt, detached from the session that claimed it."""

    delivery_id: int
    subscription_id: str
    seq: int
    msg_id: str
    attempts: int
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


def any_work(session: Session) -> bool:
    """Whether some active subscription is behind the feed (a read, before taking the write lock)."""
    return repository.any_subscription_behind(session, repository.head_seq(session))


def fan_out(session: Session, now: datetime) -> bool:
    """One delivery row per new event each subscription's owner may see and its filters match.

    Returns True if more is waiting (another round is needed).
    """
    head = repository.head_seq(session)
    subscriptions = repository.subscriptions_behind(session, head, limit=_FANOUT_SUBSCRIPTIONS)
    more = len(subscriptions) == _FANOUT_SUBSCRIPTIONS
    for subscription in subscriptions:
        hi = min(head, subscription.last_seq + FANOUT_SCAN)
        principal = service.principal_of(session, subscription.owner)
        if principal is not None:  # a deactivated owner receives nothing
            filters = Filters(
                tuple(subscription.types), tuple(subscription.issuers), tuple(subscription.regimes)
            )
            entrusted = entrusted_regimes(session, principal)
            seqs = repository.matching_seqs(session, principal, entrusted, subscription.last_seq, hi, filters)
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


def claim(
    session: Session,
    now: datetime,
    lease: timedelta,
    limit: int,
    *,
    per_subscription: int | None = None,
    in_flight: Mapping[str, int] | None = None,
) -> list[Job]:
    """Lease up to ``limit`` due deliveries to the caller.

    With ``per_subscription``, no subscription gets more than that many attempts in flight in this
    worker (counting ``in_flight``, the attempts already running), so one slow endpoint with a
    backlog cannot take every slot: its deliveries wait while the others' go out.
    """
    busy = dict(in_flight or {})
    cap = per_subscription
    full = {sub for sub, n in busy.items() if cap is not None and n >= cap}
    # Look well past ``limit`` (ids only, no locks): candidates of a subscription that reaches its
    # cap are left for the others'.
    window = limit if cap is None else CLAIM_WINDOW
    candidates = repository.due_candidates(session, now, window, full)
    chosen: list[int] = []
    for delivery_id, sub in candidates:
        if len(chosen) >= limit:
            break
        if cap is not None and busy.get(sub, 0) >= cap:
            continue
        busy[sub] = busy.get(sub, 0) + 1
        chosen.append(delivery_id)
    locked = repository.lock_due(session, chosen, now)
    token = secrets.token_hex(8)
    jobs = []
    for row in repository.lease(session, locked, now + lease, token):
        keys = [row.secret]
        if row.previous_secret and (row.previous_secret_until or now) > now:
            keys.append(row.previous_secret)
        jobs.append(
            Job(
                delivery_id=row.id,
                subscription_id=row.subscription_id,
                seq=row.seq,
                msg_id=row.msg_id,
                attempts=row.attempts,
                lease_token=token,
                owner=row.owner,
                url=row.url,
                secrets=tuple(keys),
            )
        )
    return jobs


def render_jobs(
    session: Session, jobs: list[Job], now: datetime, cache: service.RenderCache | None = None
) -> dict[int, bytes | None]:
    """Each job's body as its owner may read the event *now*; None where it no longer may."""
    by_owner: dict[str, list[Job]] = {}
    for job in jobs:
        by_owner.setdefault(job.owner, []).append(job)
    bodies: dict[int, bytes | None] = {}
    for owner, owned in by_owner.items():
        principal = service.principal_of(session, owner)
        rendered = (
            service.render_for(session, principal, [j.seq for j in owned], now, cache) if principal else {}
        )
        for job in owned:
            bodies[job.delivery_id] = rendered.get(job.seq)
    return bodies


def next_due_in(session: Session, now: datetime) -> float | None:
    """Seconds until the next delivery is due (<= 0: now), or None if nothing is pending."""
    due = repository.next_due_at(session, now)
    return None if due is None else (due - now).total_seconds()


def record_batch(
    session: Session, outcomes: Sequence[tuple[Job, Outcome]], settings: Settings, now: datetime
) -> None:
    """Log every attempt and apply the retry policy, in bulk for the common case (a 2xx).

    One insert for all the attempts, one executemany for the successes (each guarded by its
    lease in SQL), one update of their subscriptions; failures and skips, rarer and with more
    rules, go through :func:`_apply` one by one.
    """
    leases = repository.leases_of(session, [job.delivery_id for job, _ in outcomes])
    present = [(job, outcome) for job, outcome in outcomes if job.delivery_id in leases]
    # (a delivery missing here was deleted with its subscription meanwhile: nothing to record)
    repository.add_attempts(
        session,
        [
            {
                "delivery_id": job.delivery_id,
                "number": job.attempts + 1,
                "at": now,
                "status_code": outcome.status_code,
                "error": outcome.error,
                "duration_ms": outcome.duration_ms,
            }
            for job, outcome in present
        ],
    )
    held = [(job, outcome) for job, outcome in present if leases[job.delivery_id] == job.lease_token]
    # (an attempt whose lease was lost — ran out and reclaimed, or redelivered — decides nothing)
    succeeded = [(job, outcome) for job, outcome in held if outcome.ok and not outcome.skipped]
    repository.mark_delivered(
        session,
        [
            {
                "d_id": job.delivery_id,
                "d_lease": job.lease_token,
                "d_attempts": job.attempts + 1,
                "d_status_code": outcome.status_code,
            }
            for job, outcome in succeeded
        ],
        now,
    )
    repository.mark_succeeding(session, {job.subscription_id for job, _ in succeeded}, now)
    for job, outcome in held:
        if outcome.skipped or not outcome.ok:
            delivery = session.get(Delivery, job.delivery_id)
            if delivery is not None and delivery.lease_token == job.lease_token:
                _apply(session, delivery, job, outcome, settings, now)


def record(session: Session, job: Job, outcome: Outcome, settings: Settings, now: datetime) -> None:
    """Log one attempt and apply the retry policy (see the module docstring)."""
    record_batch(session, [(job, outcome)], settings, now)


def _apply(
    session: Session, delivery: Delivery, job: Job, outcome: Outcome, settings: Settings, now: datetime
) -> None:
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
        return
    if outcome.ok:
        delivery.status, delivery.next_attempt_at, delivery.delivered_at = "delivered", None, now
        subscription.failing_since = None
        subscription.last_success_at = now
        return
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
        _disable(subscription, f"the endpoint has been failing for {failing_for / 3600:.0f} h", now)


def any_active(session: Session) -> bool:
    return repository.any_active_subscription(session)


def prune(session: Session, now: datetime, retention: timedelta, *, page: int = PRUNE_PAGE) -> int:
    """Delete one page of finished deliveries (and their attempts) older than ``retention``."""
    return repository.prune_finished(session, now - retention, page)


def _disable(subscription: Subscription, reason: str, now: datetime) -> None:
    subscription.status = "disabled"
    subscription.disabled_reason = reason[:200]
    subscription.disabled_at = now
    subscription.updated_at = now
