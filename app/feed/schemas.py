"""Request bodies of the subscription endpoints, and the JSON shapes they answer with."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.documents.views import iso
from app.errors import ValidationFailed
from app.feed.models import Delivery, DeliveryAttempt, Subscription

__all__ = [
    "SubscriptionCreate",
    "SubscriptionUpdate",
    "subscription_out",
    "delivery_out",
    "attempt_out",
]

_CODE = r"^[A-Z0-9_]{3,16}$"
_REGIME = r"^[a-z0-9][a-z0-9-]{0,31}$"


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2048, description="http(s) endpoint receiving deliveries.")
    types: list[str] | None = Field(
        default=None,
        max_length=20,
        description="Event types (`pre-launch` or `org.lnx.document.pre-launch.v1`).",
    )
    issuers: list[str] | None = Field(default=None, max_length=500)
    regimes: list[str] | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=500)

    def issuer_list(self) -> list[str]:
        return _checked(self.issuers, _CODE, "/issuers")

    def regime_list(self) -> list[str]:
        return _checked(self.regimes, _REGIME, "/regimes")


class SubscriptionUpdate(SubscriptionCreate):
    """Every field optional; ``enabled: true`` re-enables a disabled subscription."""

    url: str | None = Field(default=None, min_length=8, max_length=2048)  # type: ignore[assignment]
    enabled: bool | None = None


def _checked(values: list[str] | None, pattern: str, pointer: str) -> list[str]:
    out = sorted(set(values or ()))
    for position, value in enumerate(values or ()):
        if not re.fullmatch(pattern, value):
            message = f"{value!r} is not a valid value here"
            raise ValidationFailed(message, errors=[{"pointer": f"{pointer}/{position}", "message": message}])
    return out


def subscription_out(sub: Subscription, *, secret: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": sub.id,
        "url": sub.url,
        "types": sub.types,
        "issuers": sub.issuers,
        "regimes": sub.regimes,
        "description": sub.description,
        "status": sub.status,
        "disabled_reason": sub.disabled_reason,
        "disabled_at": iso(sub.disabled_at),
        "failing_since": iso(sub.failing_since),
        "last_success_at": iso(sub.last_success_at),
        "cursor": str(sub.last_seq),
        "created_at": iso(sub.created_at),
        "updated_at": iso(sub.updated_at),
    }
    if secret is not None:
        out["secret"] = secret
    return out


def delivery_out(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": str(delivery.seq),
        "webhook_id": delivery.msg_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "last_attempt_at": iso(delivery.last_attempt_at),
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "delivered_at": iso(delivery.delivered_at),
        "created_at": iso(delivery.created_at),
    }


def attempt_out(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "at": iso(attempt.at),
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
    }
