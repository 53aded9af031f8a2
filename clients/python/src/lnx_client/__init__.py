"""lnx-client: the Launch Notification Exchange's Python client.

- :class:`Client` / :class:`AsyncClient` -- every endpoint of the contract, typed, with retries,
  pagination (``iter_documents``) and a feed follower (``follow``);
- ``build_*`` and :func:`sign_document` -- documents as dicts, signed as compact JWS by a JWK or
  any :class:`Signer` (HSM, KMS);
- :func:`verify_document`, :func:`verify_receipt`, :func:`verify_consistency` -- offline checks
  against a JWKS snapshot and the log's key;
- :class:`WebhookVerifier` -- Standard Webhooks verification for a partner's receiver.

The pure core (JWS, Merkle proofs, signed notes...) is :mod:`lnx_client.core`, shared with the
server.
"""

from __future__ import annotations

from ._http import Call, RetryPolicy
from .async_client import AsyncClient
from .builders import (
    build_acknowledgement,
    build_annual_declaration,
    build_cancellation,
    build_post_launch,
    build_pre_launch,
    build_pre_launch_update,
    circle_area,
    launch_count,
    launch_site,
    polygon_area,
    sign_document,
    vehicle,
)
from .client import Client
from .core.jws import JwkSigner, Signer
from .errors import LnxApiError, LnxClientError, LnxConnectionError, VerificationError
from .follow import AsyncFeedFollower, FeedFollower
from .models import (
    ConsistencyProof,
    CosignatureAccepted,
    Delivery,
    DeliveryPage,
    Document,
    DocumentPage,
    Event,
    FeedPage,
    InclusionProof,
    Jwks,
    Key,
    LogEntry,
    Participant,
    Receipt,
    Regime,
    Subscription,
    SubscriptionCreated,
    Token,
    TokenIssued,
    Witness,
)
from .verify import KeySet, VerifiedDocument, verify_consistency, verify_document, verify_receipt
from .webhooks import WebhookVerificationError, WebhookVerifier

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "AsyncFeedFollower",
    "Call",
    "Client",
    "ConsistencyProof",
    "CosignatureAccepted",
    "Delivery",
    "DeliveryPage",
    "Document",
    "DocumentPage",
    "Event",
    "FeedFollower",
    "FeedPage",
    "InclusionProof",
    "JwkSigner",
    "Jwks",
    "Key",
    "KeySet",
    "LnxApiError",
    "LnxClientError",
    "LnxConnectionError",
    "LogEntry",
    "Participant",
    "Receipt",
    "Regime",
    "RetryPolicy",
    "Signer",
    "Subscription",
    "SubscriptionCreated",
    "Token",
    "TokenIssued",
    "VerificationError",
    "VerifiedDocument",
    "WebhookVerificationError",
    "WebhookVerifier",
    "Witness",
    "__version__",
    "build_acknowledgement",
    "build_annual_declaration",
    "build_cancellation",
    "build_post_launch",
    "build_pre_launch",
    "build_pre_launch_update",
    "circle_area",
    "launch_count",
    "launch_site",
    "polygon_area",
    "sign_document",
    "vehicle",
    "verify_consistency",
    "verify_document",
    "verify_receipt",
]
