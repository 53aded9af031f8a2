"""Realistic payloads for tests, signed with a test actor's key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from lnx_client.core import jws as core_jws

_serial = count(1)


def ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def next_id(issuer: str, year: int = 2026) -> str:
    return f"{issuer}-{year}-{next(_serial):04d}"


def point(lon: float, lat: float, radius_km: float = 10.0, name: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"radius_km": radius_km}
    if name:
        props["name"] = name
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props}


def box(lon: float, lat: float, half: float = 0.5) -> dict[str, Any]:
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {}}


def pre_launch(
    issuer: str,
    *,
    regime: str = "hcoc",
    recipients: list[str] | None = None,
    start: datetime | None = None,
    days: float = 2,
    generic_class: str = "SLV",
    category: str | None = None,
    doc_id: str | None = None,
    launch: dict[str, Any] | None = None,
    impacts: list[dict[str, Any]] | None = None,
    type_: str = "pre-launch",
    references: str | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    start = start or now + timedelta(days=10)
    category = category or ("space-launch-vehicle" if generic_class == "SLV" else "ballistic-missile")
    payload: dict[str, Any] = {
        "type": type_,
        "id": doc_id or next_id(issuer, start.year),
        "issuer": issuer,
        "issued_at": ts(now),
        "regime": regime,
        "recipients": recipients or ["*"],
        "vehicle": {"category": category, "generic_class": generic_class},
        "window": {"start": ts(start), "end": ts(start + timedelta(days=days))},
        "launch_area": launch or point(80.23, 13.72, 5, "Sriharikota"),
        "direction": {"azimuth_deg": 135.0},
        "impact_areas": impacts or [box(86.0, 8.0)],
    }
    if references:
        payload["references"] = references
    return payload


def follow_up(
    issuer: str,
    type_: str,
    references: str,
    *,
    regime: str = "hcoc",
    recipients: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": type_,
        "id": next_id(issuer),
        "issuer": issuer,
        "issued_at": ts(datetime.now(UTC)),
        "regime": regime,
        "recipients": recipients or ["*"],
        "references": references,
    }
    payload.update(extra)
    return payload


def sign(actor: Any, payload: dict[str, Any], alg: str | None = None) -> str:
    return core_jws.sign_compact(payload, core_jws.JwkSigner(actor.private_jwk, alg=alg))


def submit(client: Any, actor: Any, payload: dict[str, Any], **kw: Any) -> Any:
    token = sign(actor, payload)
    return client.post(
        "/v1/documents", content=token, headers={**actor.headers, "content-type": "application/jose"}, **kw
    )
