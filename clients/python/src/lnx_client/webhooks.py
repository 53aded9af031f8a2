"""Receiving the exchange's webhooks: Standard Webhooks verification for a partner's endpoint.

    verifier = WebhookVerifier(secret)          # the "whsec_..." from create_subscription
    event = verifier.verify(request.headers, await request.body())   # raises if not genuine

Verify the *exact* body bytes before parsing them; answer 2xx quickly and process afterwards
(deliveries are at least once: deduplicate on ``event.id`` / the ``webhook-id`` header).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from .core import webhooks as core_webhooks
from .core.webhooks import WebhookVerificationError
from .models import Event

__all__ = ["WebhookVerificationError", "WebhookVerifier"]


class WebhookVerifier:
    """Checks ``webhook-id``/``webhook-timestamp``/``webhook-signature`` and returns the event."""

    def __init__(self, secret: str, *, tolerance: int = core_webhooks.DEFAULT_TOLERANCE) -> None:
        # Fail at construction, not at the first delivery, on a secret that cannot be a key.
        core_webhooks.sign(secret, "check", 0, b"")
        self._secret = secret
        self.tolerance = tolerance

    def verify(self, headers: Mapping[str, str], body: bytes | str, *, now: float | None = None) -> Event:
        """Raise :class:`WebhookVerificationError` unless the delivery is genuine and fresh."""
        core_webhooks.verify(self._secret, headers, body, tolerance=self.tolerance, now=now)
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise WebhookVerificationError("invalid_body", "the webhook body is not JSON") from exc
        return Event.model_validate(data)

    def __repr__(self) -> str:
        return f"WebhookVerifier(tolerance={self.tolerance})"
