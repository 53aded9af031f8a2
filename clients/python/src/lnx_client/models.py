"""Response models of the exchange's API (contract §3-§6).

Every model accepts members it does not know (``extra="allow"``): a newer server may add fields
without breaking older clients. Times are parsed to timezone-aware datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ConsistencyProof",
    "CosignatureAccepted",
    "Delivery",
    "DeliveryPage",
    "Document",
    "DocumentPage",
    "Event",
    "FeedPage",
    "InclusionProof",
    "Jwks",
    "Key",
    "LogEntry",
    "Participant",
    "Receipt",
    "Regime",
    "Subscription",
    "SubscriptionCreated",
    "Token",
    "TokenIssued",
    "Witness",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Receipt(_Model):
    """What ``POST /v1/documents`` answers: where the document is in the log, with its proof."""

    id: str
    type: str
    issuer: str
    log_index: int
    leaf_hash: str = Field(description="RFC 9162 leaf hash, hex.")
    integrated_time: datetime
    findings: list[dict[str, Any]] = Field(default_factory=list)
    proof: str = Field(description="c2sp.org/tlog-proof@v1 text against a signed checkpoint.")
    created: bool | None = Field(
        default=None, description="True on 201, False on 200 (already accepted); set by the client."
    )


class Document(_Model):
    """A document as the caller may see it: in full, or (other auditors) its log-level metadata only."""

    id: str
    type: str
    issuer: str
    regime: str | None = None
    access: Literal["full", "metadata"] = "full"
    log_index: int
    leaf_hash: str
    issued_at: datetime | None = None
    integrated_time: datetime | None = None
    status: str | None = None
    payload: dict[str, Any] | None = None
    jws: str | None = None
    kid: str | None = None
    findings: list[dict[str, Any]] = Field(default_factory=list)
    acknowledgements: list[dict[str, Any]] | None = None
    recipients: list[str] | None = None
    history: list[str] | None = None


class DocumentPage(_Model):
    documents: list[Document]
    next_page_token: str | None = None


class Event(_Model):
    """A CloudEvents 1.0 event of the feed; ``id`` is the feed cursor."""

    specversion: str = "1.0"
    id: str
    source: str | None = None
    type: str
    time: datetime | None = None
    subject: str | None = None
    datacontenttype: str | None = None
    data: dict[str, Any] | None = None

    @property
    def document(self) -> Document | None:
        """``data`` as a :class:`Document`, for document events."""
        if self.data is None or "log_index" not in self.data:
            return None
        return Document.model_validate(self.data)


class FeedPage(_Model):
    events: list[Event]
    next: str | None = None


class Participant(_Model):
    code: str
    name: str
    role: str
    active: bool = True
    contact: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deactivated_at: datetime | None = None


class Key(_Model):
    kid: str
    participant: str
    jwk: dict[str, Any]
    family: str
    status: str
    not_before: datetime
    not_after: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    added_by: str | None = None
    created_at: datetime | None = None


class Jwks(_Model):
    """A participant's keys, history included; each key carries ``not_before``/``not_after``/``revoked_at``."""

    keys: list[dict[str, Any]]


class Token(_Model):
    id: str
    participant: str
    scopes: list[str]
    description: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class TokenIssued(Token):
    token: str = Field(description="Shown once; store it now.")


class Regime(_Model):
    id: str
    name: str
    description: str = ""
    multilateral: bool = True
    confidential: bool = False
    rules: dict[str, Any] = Field(default_factory=dict)
    sources: dict[str, Any] = Field(default_factory=dict)
    members: list[str] = Field(default_factory=list)
    auditors: list[str] = Field(default_factory=list)
    has_boundary: bool = False
    updated_at: datetime | None = None


class Subscription(_Model):
    id: str
    url: str
    types: list[str] | None = None
    issuers: list[str] | None = None
    regimes: list[str] | None = None
    description: str | None = None
    status: str | None = None
    disabled_reason: str | None = None
    disabled_at: datetime | None = None
    failing_since: datetime | None = None
    last_success_at: datetime | None = None
    cursor: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class SubscriptionCreated(Subscription):
    secret: str = Field(description="The Standard Webhooks secret (whsec_...); shown once.")


class Delivery(_Model):
    """One event's delivery to a webhook: its status and attempts (``attempt_log`` when fetched alone)."""

    id: int
    event_id: str
    webhook_id: str
    status: str
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    created_at: datetime | None = None
    attempt_log: list[dict[str, Any]] | None = None


class DeliveryPage(_Model):
    deliveries: list[Delivery]
    next_page_token: str | None = None


class InclusionProof(_Model):
    index: int
    size: int
    leaf_hash: str
    hashes: list[str] = Field(description="Base64 hashes, the leaf's sibling first.")
    checkpoint: str | None = None


class ConsistencyProof(_Model):
    first: int
    second: int
    hashes: list[str]


class LogEntry(_Model):
    index: int
    leaf_hash: str
    leaf_data: str
    integrated_time: datetime


class Witness(_Model):
    name: str
    vkey: str
    participant: str | None = None
    active: bool = True
    created_at: datetime | None = None
    latest_cosigned_size: int | None = None


class CosignatureAccepted(_Model):
    checkpoint_size: int
    stored: list[str] = Field(default_factory=list)
    already_stored: list[str] = Field(default_factory=list)
