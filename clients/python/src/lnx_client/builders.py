"""Building and signing documents (contract §2): payload dicts for the six types, and the JWS.

The builders return plain dicts in the contract's shape, so they can be inspected, stored or
amended before signing; the server checks the content rules. Times may be given as aware
datetimes (converted to RFC 3339 UTC with ``Z``) or as strings (kept as given).

``sign_document`` takes anything that satisfies the core's :class:`~lnx_client.core.jws.Signer`
protocol (``alg``, ``kid``, ``sign(bytes)``) -- an HSM or KMS key -- or a private JWK dict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .core.jws import JwkSigner, Signer, sign_compact

__all__ = [
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
]

Feature = dict[str, Any]


def _time(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("times must be timezone-aware (UTC)")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _now() -> str:
    return _time(datetime.now(UTC).replace(microsecond=0))


def _position(lon: float, lat: float) -> list[float]:
    return [float(lon), float(lat)]


def circle_area(lon: float, lat: float, radius_km: float, name: str | None = None) -> Feature:
    """A launch or impact area given as a centre and a radius (GeoJSON Point + ``radius_km``)."""
    properties: dict[str, Any] = {"radius_km": float(radius_km)}
    if name:
        properties["name"] = name
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": _position(lon, lat)},
        "properties": properties,
    }


def polygon_area(ring: Sequence[Sequence[float]], name: str | None = None) -> Feature:
    """A Polygon area from one exterior ring of ``(lon, lat)``; it is closed if it is not already."""
    positions = [_position(lon, lat) for lon, lat, *_ in ring]
    if positions and positions[0] != positions[-1]:
        positions.append(list(positions[0]))
    feature: Feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [positions]}}
    feature["properties"] = {"name": name} if name else {}
    return feature


def vehicle(category: str, generic_class: str, designation: str | None = None) -> dict[str, str]:
    """``{category, generic_class[, designation]}``; e.g. ``vehicle("space-launch-vehicle", "SLV")``."""
    out = {"category": category, "generic_class": generic_class}
    if designation:
        out["designation"] = designation
    return out


def launch_site(lon: float, lat: float, name: str, category: str) -> Feature:
    """A launch site of an annual declaration (Point with ``name`` and ``category``)."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": _position(lon, lat)},
        "properties": {"name": name, "category": category},
    }


def launch_count(category: str, generic_class: str, count: int) -> dict[str, Any]:
    return {"category": category, "generic_class": generic_class, "count": int(count)}


def _common(
    type_: str,
    id: str,
    issuer: str,
    regime: str,
    recipients: Iterable[str],
    issued_at: datetime | str | None,
) -> dict[str, Any]:
    return {
        "type": type_,
        "id": id,
        "issuer": issuer,
        "issued_at": _time(issued_at) if issued_at is not None else _now(),
        "regime": regime,
        "recipients": list(recipients),
    }


def _notification(
    type_: str,
    *,
    id: str,
    issuer: str,
    regime: str,
    vehicle: Mapping[str, Any],
    window_start: datetime | str,
    window_end: datetime | str,
    launch_area: Feature,
    azimuth_deg: float,
    impact_areas: Sequence[Feature],
    tolerance_deg: float | None,
    remarks: str | None,
    recipients: Iterable[str],
    issued_at: datetime | str | None,
    references: str | None = None,
) -> dict[str, Any]:
    payload = _common(type_, id, issuer, regime, recipients, issued_at)
    if references is not None:
        payload["references"] = references
    direction: dict[str, float] = {"azimuth_deg": float(azimuth_deg)}
    if tolerance_deg is not None:
        direction["tolerance_deg"] = float(tolerance_deg)
    payload.update(
        {
            "vehicle": dict(vehicle),
            "window": {"start": _time(window_start), "end": _time(window_end)},
            "launch_area": launch_area,
            "direction": direction,
            "impact_areas": list(impact_areas),
        }
    )
    if remarks is not None:
        payload["remarks"] = remarks
    return payload


def build_pre_launch(
    *,
    id: str,
    issuer: str,
    regime: str,
    vehicle: Mapping[str, Any],
    window_start: datetime | str,
    window_end: datetime | str,
    launch_area: Feature,
    azimuth_deg: float,
    impact_areas: Sequence[Feature],
    tolerance_deg: float | None = None,
    remarks: str | None = None,
    recipients: Iterable[str] = ("*",),
    issued_at: datetime | str | None = None,
) -> dict[str, Any]:
    """A ``pre-launch`` notification."""
    return _notification(
        "pre-launch",
        id=id,
        issuer=issuer,
        regime=regime,
        vehicle=vehicle,
        window_start=window_start,
        window_end=window_end,
        launch_area=launch_area,
        azimuth_deg=azimuth_deg,
        impact_areas=impact_areas,
        tolerance_deg=tolerance_deg,
        remarks=remarks,
        recipients=recipients,
        issued_at=issued_at,
    )


def build_pre_launch_update(
    *,
    id: str,
    issuer: str,
    regime: str,
    references: str,
    vehicle: Mapping[str, Any],
    window_start: datetime | str,
    window_end: datetime | str,
    launch_area: Feature,
    azimuth_deg: float,
    impact_areas: Sequence[Feature],
    tolerance_deg: float | None = None,
    remarks: str | None = None,
    recipients: Iterable[str] = ("*",),
    issued_at: datetime | str | None = None,
) -> dict[str, Any]:
    """A ``pre-launch-update``: restates the whole notification, superseding ``references``."""
    return _notification(
        "pre-launch-update",
        id=id,
        issuer=issuer,
        regime=regime,
        vehicle=vehicle,
        window_start=window_start,
        window_end=window_end,
        launch_area=launch_area,
        azimuth_deg=azimuth_deg,
        impact_areas=impact_areas,
        tolerance_deg=tolerance_deg,
        remarks=remarks,
        recipients=recipients,
        issued_at=issued_at,
        references=references,
    )


def build_cancellation(
    *,
    id: str,
    issuer: str,
    regime: str,
    references: str,
    reason: str | None = None,
    recipients: Iterable[str] = ("*",),
    issued_at: datetime | str | None = None,
) -> dict[str, Any]:
    """A ``cancellation`` of the notification ``references``."""
    payload = _common("cancellation", id, issuer, regime, recipients, issued_at)
    payload["references"] = references
    if reason is not None:
        payload["reason"] = reason
    return payload


def build_post_launch(
    *,
    id: str,
    issuer: str,
    regime: str,
    launched_at: datetime | str,
    outcome: str,
    vehicle: Mapping[str, Any],
    references: str | None = None,
    launch_area: Feature | None = None,
    impact_areas: Sequence[Feature] | None = None,
    remarks: str | None = None,
    recipients: Iterable[str] = ("*",),
    issued_at: datetime | str | None = None,
) -> dict[str, Any]:
    """A ``post-launch`` report (``references`` may be omitted for an unannounced launch)."""
    payload = _common("post-launch", id, issuer, regime, recipients, issued_at)
    if references is not None:
        payload["references"] = references
    payload.update({"launched_at": _time(launched_at), "outcome": outcome, "vehicle": dict(vehicle)})
    if launch_area is not None:
        payload["launch_area"] = launch_area
    if impact_areas is not None:
        payload["impact_areas"] = list(impact_areas)
    if remarks is not None:
        payload["remarks"] = remarks
    return payload


def build_acknowledgement(
    *,
    id: str,
    issuer: str,
    regime: str,
    references: str,
    recipients: Iterable[str] = ("*",),
    issued_at: datetime | str | None = None,
) -> dict[str, Any]:
    """An ``acknowledgement`` by a recipient of the document ``references``."""
    payload = _common("acknowledgement", id, issuer, regime, recipients, issued_at)
    payload["references"] = references
    return payload


def build_annual_declaration(
    *,
    id: str,
    issuer: str,
    regime: str,
    year: int,
    ballistic_missile_policy: str,
    slv_policy: str,
    launches: Sequence[Mapping[str, Any]] = (),
    launch_sites: Sequence[Feature] = (),
    remarks: str | None = None,
    recipients: Iterable[str] = ("*",),
    issued_at: datetime | str | None = None,
) -> dict[str, Any]:
    """An ``annual-declaration`` on ``year`` (see :func:`launch_count`, :func:`launch_site`)."""
    payload = _common("annual-declaration", id, issuer, regime, recipients, issued_at)
    payload.update(
        {
            "year": int(year),
            "ballistic_missile_policy": ballistic_missile_policy,
            "slv_policy": slv_policy,
            "launches": [dict(item) for item in launches],
            "launch_sites": list(launch_sites),
        }
    )
    if remarks is not None:
        payload["remarks"] = remarks
    return payload


def sign_document(payload: Mapping[str, Any], signer: Signer | Mapping[str, Any]) -> str:
    """The compact JWS of ``payload`` (header ``{alg, kid, typ: "lnx+json"}``).

    ``signer``: a :class:`~lnx_client.core.jws.Signer` (HSM/KMS) or a private JWK dict
    (Ed25519 signs with ``alg: Ed25519``, P-256 with ``ES256``).
    """
    if not isinstance(signer, Signer):
        signer = JwkSigner(signer)
    return sign_compact(payload, signer)
