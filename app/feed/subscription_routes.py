"""HTTP routes of webhook subscriptions: each participant manages only its own (``read`` scope)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response

from app.db import utcnow
from app.deps import ReaderDep, ReadSessionDep, SessionDep, SettingsDep
from app.feed import subscriptions
from app.feed.schemas import (
    SubscriptionCreate,
    SubscriptionUpdate,
    attempt_out,
    delivery_out,
    subscription_out,
)

__all__ = ["router"]

router = APIRouter(tags=["subscriptions"])

# Every route takes ``principal`` before ``session``: dependencies are entered in order, so the
# token check finishes (and returns its pooled connection) before the request's session takes
# one; the other order holds two connections per request and can exhaust the pool under load.


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


@router.post("/subscriptions", status_code=201)
def create_subscription(
    body: SubscriptionCreate, principal: ReaderDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """Register a webhook endpoint; the answer carries its signing secret, shown this once."""
    subscription, secret = subscriptions.create(
        session, principal, body, allow_private=settings.webhook_allow_private, now=utcnow()
    )
    return _json(
        subscription_out(subscription, secret=secret),
        201,
        {"Location": f"/v1/subscriptions/{subscription.id}"},
    )


@router.get("/subscriptions")
def list_subscriptions(principal: ReaderDep, session: ReadSessionDep) -> Response:
    """The caller's subscriptions (never their secrets)."""
    return _json(
        {"subscriptions": [subscription_out(s) for s in subscriptions.list_owned(session, principal)]}
    )


@router.get("/subscriptions/{subscription_id}")
def get_subscription(subscription_id: str, principal: ReaderDep, session: ReadSessionDep) -> Response:
    """One of the caller's subscriptions."""
    return _json(subscription_out(subscriptions.get_owned(session, principal, subscription_id)))


@router.patch("/subscriptions/{subscription_id}")
def update_subscription(
    subscription_id: str,
    body: SubscriptionUpdate,
    principal: ReaderDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Change URL, filters or description; `enabled` disables or re-enables it."""
    subscription = subscriptions.update(
        session,
        principal,
        subscription_id,
        body,
        allow_private=settings.webhook_allow_private,
        now=utcnow(),
    )
    return _json(subscription_out(subscription))


@router.delete("/subscriptions/{subscription_id}", status_code=204)
def delete_subscription(subscription_id: str, principal: ReaderDep, session: SessionDep) -> Response:
    """Remove the subscription with its delivery history."""
    subscriptions.delete(session, principal, subscription_id)
    return Response(status_code=204)


@router.post("/subscriptions/{subscription_id}/rotate-secret")
def rotate_secret(subscription_id: str, principal: ReaderDep, session: SessionDep) -> Response:
    """A new signing secret, shown this once; the previous one keeps signing for 24 h."""
    subscription, secret = subscriptions.rotate_secret(session, principal, subscription_id, now=utcnow())
    return _json(subscription_out(subscription, secret=secret))


@router.get("/subscriptions/{subscription_id}/deliveries")
def list_deliveries(
    subscription_id: str,
    principal: ReaderDep,
    session: ReadSessionDep,
    status: str | None = None,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
    page_token: str | None = None,
) -> Response:
    """Deliveries of the subscription, newest first: status, attempts, last response, next attempt."""
    rows, next_token = subscriptions.list_deliveries(
        session, principal, subscription_id, status=status, limit=page_size, page_token=page_token
    )
    return _json({"deliveries": [delivery_out(d) for d in rows], "next_page_token": next_token})


@router.get("/subscriptions/{subscription_id}/deliveries/{delivery_id}")
def get_delivery(
    subscription_id: str, delivery_id: int, principal: ReaderDep, session: ReadSessionDep
) -> Response:
    """One delivery with every attempt."""
    delivery, attempts = subscriptions.get_delivery(session, principal, subscription_id, delivery_id)
    return _json({**delivery_out(delivery), "attempt_log": [attempt_out(a) for a in attempts]})


@router.post("/subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver", status_code=202)
def redeliver(subscription_id: str, delivery_id: int, principal: ReaderDep, session: SessionDep) -> Response:
    """Queue the delivery again now, with a fresh retry schedule."""
    delivery = subscriptions.redeliver(session, principal, subscription_id, delivery_id, now=utcnow())
    return _json(delivery_out(delivery), 202)
