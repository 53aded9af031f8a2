"""Request and response bodies of the participants, keys and tokens endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Role",
    "ParticipantCreate",
    "ParticipantUpdate",
    "ParticipantOut",
    "KeyCreate",
    "KeyRevoke",
    "KeyRotation",
    "KeyOut",
    "Jwks",
    "TokenCreate",
    "TokenOut",
    "TokenIssued",
]

Role = Literal["state", "observer", "auditor", "operator"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParticipantCreate(_In):
    code: str = Field(min_length=3, max_length=16, examples=["IND"])
    name: str = Field(min_length=1, max_length=200)
    role: Role
    contact: str | None = Field(default=None, max_length=320)


class ParticipantUpdate(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    contact: str | None = Field(default=None, max_length=320)


class ParticipantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    role: Role
    active: bool
    contact: str | None
    created_at: datetime
    updated_at: datetime
    deactivated_at: datetime | None


class KeyCreate(_In):
    jwk: dict[str, Any]
    not_before: datetime | None = None
    not_after: datetime | None = None


class KeyRevoke(_In):
    reason: str = Field(min_length=1, max_length=500)
    revoked_at: datetime | None = Field(default=None, description="Defaults to now; may be set to the past.")


class KeyRotation(_In):
    """Self-service key addition: see docs/keys.md for the proof of possession."""

    request: str = Field(
        description="Compact JWS by a current key of the participant over the rotation payload."
    )
    proof: str = Field(description="Compact JWS by the NEW key over the same payload.")


class KeyOut(BaseModel):
    kid: str
    participant: str
    jwk: dict[str, Any]
    family: str
    status: Literal["active", "not-yet-valid", "expired", "revoked"]
    not_before: datetime
    not_after: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None
    added_by: str
    created_at: datetime


class Jwks(BaseModel):
    keys: list[dict[str, Any]]


class TokenCreate(_In):
    participant: str
    scopes: list[Literal["read", "submit", "admin"]] = Field(min_length=1)
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)
    description: str | None = Field(default=None, max_length=200)


class TokenOut(BaseModel):
    id: str
    participant: str
    scopes: list[str]
    description: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenIssued(TokenOut):
    token: str = Field(description="Shown once; only its hash is stored.")
