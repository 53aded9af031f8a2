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
    "next_due_in",
    "retry_after_seconds",
]

FANOUT_SCAN = 1000
"""Most seqs fanned out per subscription per transaction (keeps write transactions short)."""
MAX_RETRY_AFTER_S = 24 * 3600.0
_FANOUT_SUBSCRIPTIONS = 50


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed delivery attempt, detached from the session that claimed it."""

    delivery_id: int
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


def claim(session: Session, now: datetime, lease: timedelta, limit: int) -> list[Job]:
    """Lease up to ``limit`` due deliveries to the caller."""
    token = secrets.token_hex(8)
    jobs = []
    for delivery, subscription in repository.claim_due(session, now, now + lease, token, limit):
        keys = [subscription.secret]
        if subscription.previous_secret and (subscription.previous_secret_until or now) > now:
            keys.append(subscription.previous_secret)
        jobs.append(
            Job(
                delivery_id=delivery.id,
                seq=delivery.seq,
                msg_id=delivery.msg_id,
                attempts=delivery.attempts,
                lease_token=token,
                owner=subscription.owner,
                url=subscription.url,
                secrets=tuple(keys),
            )
        )
    return jobs


def render_jobs(session: Session, jobs: list[Job], now: datetime) -> dict[int, bytes | None]:
    """Each job's body as its owner may read the event *now*; None where it no longer may."""
    by_owner: dict[str, list[Job]] = {}
    for job in jobs:
        by_owner.setdefault(job.owner, []).append(job)
    bodies: dict[int, bytes | None] = {}
    for owner, owned in by_owner.items():
        principal = service.principal_of(session, owner)
        rendered = service.render_for(session, principal, [j.seq for j in owned], now) if principal else {}
        for job in owned:
            bodies[job.delivery_id] = rendered.get(job.seq)
    return bodies


def next_due_in(session: Session, now: datetime) -> float | None:
    """Seconds until the next delivery is due (<= 0: now), or None if nothing is pending."""
    due = repository.next_due_at(session, now)
    return None if due is None else (due - now).total_seconds()


def record(session: Session, job: Job, outcome: Outcome, settings: Settings, now: datetime) -> None:
    """Log the attempt and apply the retry policy (see the module docstring)."""
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
        return  # lease lost (ran out and reclaimed, or redelivered): the holder decides
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


def _disable(subscription: Subscription, reason: str, now: datetime) -> None:
    subscription.status = "disabled"
    subscription.disabled_reason = reason[:200]
    subscription.disabled_at = now
    subscription.updated_at = now
