"""Bodies of the regimes endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RegimeOut", "MembershipChange", "RegimeUpdate", "BoundaryIn"]


class RegimeOut(BaseModel):
    id: str
    name: str
    description: str
    multilateral: bool
    confidential: bool
    rules: dict[str, Any]
    sources: dict[str, Any]
    members: list[str]
    auditors: list[str]
    has_boundary: bool
    updated_at: datetime


class MembershipChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    participant: str = Field(min_length=3, max_length=16)


class RegimeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    rules: dict[str, Any] | None = None


class BoundaryIn(BaseModel):
    """A GeoJSON LineString, MultiLineString, Polygon or MultiPolygon geometry or Feature."""

    model_config = ConfigDict(extra="forbid")
    geometry: dict[str, Any]
