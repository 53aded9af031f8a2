"""Request and response bodies of the witness endpoints (the other log endpoints answer pre-built bytes)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["WitnessCreate", "WitnessOut", "CosignatureAccepted"]


class WitnessCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vkey: str = Field(
        min_length=1,
        max_length=400,
        description="C2SP tlog-cosignature verifier key: <name>+<key id>+base64(0x04 || Ed25519 public key).",
    )
    name: str | None = Field(default=None, max_length=200, description="Must equal the key name if given.")
    participant: str | None = Field(
        default=None, max_length=16, description="The participant running the witness."
    )


class WitnessOut(BaseModel):
    name: str
    vkey: str
    participant: str | None
    active: bool
    created_at: datetime
    latest_cosigned_size: int | None = Field(description="The largest checkpoint size it has cosigned.")


class CosignatureAccepted(BaseModel):
    checkpoint_size: int
    stored: list[str] = Field(description="Witnesses whose cosignature was stored by this request.")
    already_stored: list[str] = Field(description="Witnesses whose identical cosignature was already stored.")
