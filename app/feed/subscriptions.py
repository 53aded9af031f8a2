"""Webhook subscriptions: owned by one participant, visible only to it; deliveries and redelivery.

A new subscription starts at the current head of the feed (it receives what is accepted after
it was created). Its secret is returned once, at creation and at each rotation; after a
rotation the previous secret keeps signing (as a second ``v1,`` signature, which Standard
Webhooks verifiers accept) for ``SECRET_GRACE`` so receivers can switch without losing a
delivery. Services never commit.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from lnx_client.core.webhooks import generate_secret
from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.errors import BadRequest, Conflict, NotFound, ValidationFailed
from app.feed import repository, ssrf
from app.feed.events import normalise_types
from app.feed.models import Delivery, DeliveryAttempt, Subscription
from app.feed.schemas import SubscriptionCreate, SubscriptionUpdate

__all__ = [
    "SECRET_GRACE",
    "MAX_SUBSCRIPTIONS",
    "create",
    "get_owned",
    "list_owned",
    "update",
    "delete",
    "rotate_secret",
    "list_deliveries",
    "get_delivery",
    "redeliver",
    "check_url",
    "SUBSCRIPTIONS_CHANGED",
]

SUBSCRIPTIONS_CHANGED = "lnx_subscriptions_changed"
"""``session.info`` flag: when the session commits, this process's delivery worker looks again at
once (a new, re-enabled or redelivered subscription) instead of at its next idle recheck."""
SECRET_GRACE = timedelta(hours=24)
MAX_SUBSCRIPTIONS = 50
"""Per participant: enough for every system a national contact point runs, bounded for the fan-out."""


def check_url(url: str, *, allow_private: bool) -> None:
    """422 unless the URL passes the SSRF guard (resolves the host: runs in the thread pool)."""
    try:
        ssrf.resolve_target(url, allow_private=allow_private)
    except ssrf.UnsafeUrl as exc:
        raise ValidationFailed(
            exc.message, code="unsafe-webhook-url", errors=[{"pointer": "/url", "message": exc.message}]
        ) from exc


def _not_found(subscription_id: str) -> NotFound:
    return NotFound(f"no subscription {subscription_id}", code="subscription-not-found")


def create(
    session: Session, principal: Principal, body: SubscriptionCreate, *, allow_private: bool, now: datetime
) -> tuple[Subscription, str]:
    """Register a webhook endpoint for the caller; returns it with its secret (shown this once)."""
    check_url(body.url, allow_private=allow_private)
    if len(repository.list_subscriptions(session, principal.code)) >= MAX_SUBSCRIPTIONS:
        raise Conflict(
            f"a participant may hold at most {MAX_SUBSCRIPTIONS} subscriptions", code="too-many-subscriptions"
        )
    secret = generate_secret()
    subscription = Subscription(
        id="sub_" + secrets.token_urlsafe(15),
        owner=principal.code,
        url=body.url,
        types=normalise_types(body.types or (), pointer="/types"),
        issuers=body.issuer_list(),
        regimes=body.regime_list(),
        description=body.description,
        secret=secret,
        status="active",
        last_seq=repository.head_seq(session),
        created_at=now,
        updated_at=now,
    )
    session.add(subscription)
    session.flush()
    session.info[SUBSCRIPTIONS_CHANGED] = True
    return subscription, secret


def get_owned(
    session: Session, principal: Principal, subscription_id: str, *, for_update: bool = False
) -> Subscription:
    """The caller's subscription; 404 alike for a missing one and someone else's."""
    subscription = repository.get_subscription(session, subscription_id, for_update=for_update)
    if subscription is None or subscription.owner != principal.code:
        raise _not_found(subscription_id)
    return subscription


def list_owned(session: Session, principal: Principal) -> list[Subscription]:
    return repository.list_subscriptions(session, principal.code)


def update(
    session: Session,
    principal: Principal,
    subscription_id: str,
    body: SubscriptionUpdate,
    *,
    allow_private: bool,
    now: datetime,
) -> Subscription:
    """Change the URL, filters or description, or enable/disable the subscription."""
    given = body.model_fields_set
    if "url" in given:
        if body.url is None:
            raise ValidationFailed(
                "url cannot be removed", errors=[{"pointer": "/url", "message": "required"}]
            )
        check_url(body.url, allow_private=allow_private)  # DNS before taking the row lock
    subscription = get_owned(session, principal, subscription_id, for_update=True)
    if body.url is not None:
        subscription.url = body.url
    if "types" in given:
        subscription.types = normalise_types(body.types or (), pointer="/types")
    if "issuers" in given:
        subscription.issuers = body.issuer_list()
    if "regimes" in given:
        subscription.regimes = body.regime_list()
    if "description" in given:
        subscription.description = body.description
    if body.enabled is True and subscription.status != "active":
        # Re-enabled: pending deliveries resume and the fan-out continues from where it stopped.
        subscription.status = "active"
        subscription.disabled_reason = None
        subscription.disabled_at = None
        subscription.failing_since = None
    elif body.enabled is False and subscription.status == "active":
        subscription.status = "disabled"
        subscription.disabled_reason = "disabled by the subscriber"
        subscription.disabled_at = now
    subscription.updated_at = now
    session.flush()
    session.info[SUBSCRIPTIONS_CHANGED] = True
    return subscription


def delete(session: Session, principal: Principal, subscription_id: str) -> None:
    get_owned(session, principal, subscription_id, for_update=True)
    repository.delete_subscription(session, subscription_id)


def rotate_secret(
    session: Session, principal: Principal, subscription_id: str, *, now: datetime
) -> tuple[Subscription, str]:
    """A new secret (returned once); the old one keeps signing alongside it for ``SECRET_GRACE``."""
    subscription = get_owned(session, principal, subscription_id, for_update=True)
    secret = generate_secret()
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_until = now + SECRET_GRACE
    subscription.secret = secret
    subscription.updated_at = now
    session.flush()
    return subscription, secret


_STATUSES = ("pending", "delivered", "failed", "skipped")


def list_deliveries(
    session: Session,
    principal: Principal,
    subscription_id: str,
    *,
    status: str | None,
    limit: int,
    page_token: str | None,
) -> tuple[list[Delivery], str | None]:
    """The subscription's deliveries, newest first, with a keyset page token."""
    get_owned(session, principal, subscription_id)
    if status is not None and status not in _STATUSES:
        raise BadRequest(f"status must be one of {', '.join(_STATUSES)}", code="invalid-status")
    before: int | None = None
    if page_token:
        if not page_token.isdigit():
            raise BadRequest("page_token is not a token this server issued", code="invalid-page-token")
        before = int(page_token)
    rows = repository.list_deliveries(
        session, subscription_id, status=status, before_id=before, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1].id) if more and rows else None)


def get_delivery(
    session: Session, principal: Principal, subscription_id: str, delivery_id: int
) -> tuple[Delivery, list[DeliveryAttempt]]:
    get_owned(session, principal, subscription_id)
    delivery = repository.get_delivery(session, subscription_id, delivery_id)
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}", code="delivery-not-found")
    return delivery, repository.attempts_of(session, delivery.id)


def redeliver(
    session: Session, principal: Principal, subscription_id: str, delivery_id: int, *, now: datetime
) -> Delivery:
    """Queue a delivery again now, with a fresh retry schedule (whatever its status was)."""
    subscription = get_owned(session, principal, subscription_id)
    if subscription.status != "active":
        raise Conflict("the subscription is disabled; enable it first", code="subscription-disabled")
    delivery = repository.get_delivery(session, subscription_id, delivery_id)
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}", code="delivery-not-found")
    delivery.status = "pending"
    delivery.next_attempt_at = now
    delivery.schedule_index = 0
    delivery.locked_until = None
    delivery.lease_token = None
    session.flush()
    session.info[SUBSCRIPTIONS_CHANGED] = True
    return delivery
