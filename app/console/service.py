"""What each console page shows, read through the API's own reading functions.

Every read goes through :mod:`app.documents.reading` (and so through
:mod:`app.documents.visibility`): the console cannot show a participant anything the API would
not answer it. Nothing here writes; pages hold no queries of their own.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lnx_client.core import jwk as core_jwk
from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.documents import reading, signature, views
from app.documents.intake import SUBMITTING_ROLES
from app.documents.visibility import Access
from app.participants import repository as participants_repository

__all__ = [
    "HORIZON",
    "TimelineWindow",
    "Timeline",
    "overview",
    "document_list",
    "document_page",
    "document_features",
    "can_acknowledge",
]

HORIZON = timedelta(days=30)
"""How far ahead the timeline looks."""
_TIMELINE_UNITS = 1000  # width of the timeline's SVG viewBox
_MIN_BAR_UNITS = 6  # a one-hour window stays visible and clickable


@dataclass(frozen=True, slots=True)
class TimelineWindow:
    """One launch window on the timeline, with its bar's position in viewBox units."""

    document_id: str
    issuer: str
    regime: str
    status: str
    generic_class: str | None
    site: str | None
    start: datetime
    end: datetime
    x: float
    width: float
    acknowledged: int
    addressed: int


@dataclass(frozen=True, slots=True)
class Timeline:
    start: datetime
    end: datetime
    windows: list[TimelineWindow]
    ticks: list[datetime] = field(default_factory=list)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _timeline(session: Session, principal: Principal, collection: dict[str, Any], now: datetime) -> Timeline:
    end = now + HORIZON
    first: dict[str, dict[str, Any]] = {}
    for feature in collection["features"]:
        props = feature["properties"]
        if props.get("window_start") and props["document_id"] not in first:
            first[props["document_id"]] = props
    windows = []
    span = HORIZON.total_seconds()
    for document_id, props in first.items():
        start, stop = _parse_time(props["window_start"]), _parse_time(props["window_end"])
        if start > end or stop < now:
            continue
        left = (max(start, now) - now).total_seconds() / span * _TIMELINE_UNITS
        right = (min(stop, end) - now).total_seconds() / span * _TIMELINE_UNITS
        width = max(right - left, _MIN_BAR_UNITS)
        document, access = reading.get_visible(session, principal, document_id)
        detail = views.view(session, document, access, now)
        site = props.get("name") if props.get("role") == "launch_area" else None
        windows.append(
            TimelineWindow(
                document_id=document_id,
                issuer=props["issuer"],
                regime=props["regime"],
                status=props["status"],
                generic_class=props.get("generic_class"),
                site=site,
                start=start,
                end=stop,
                x=round(min(left, _TIMELINE_UNITS - width), 2),
                width=round(width, 2),
                acknowledged=len(detail.get("acknowledgements", [])),
                addressed=len(detail.get("recipients", [])),
            )
        )
    windows.sort(key=lambda w: (w.start, w.document_id))
    ticks = [now + timedelta(days=d) for d in range(0, 30, 5)]
    return Timeline(start=now, end=end, windows=windows, ticks=ticks)


def overview(session: Session, principal: Principal, now: datetime) -> dict[str, Any]:
    """The duty officer's first screen: the next 30 days of windows; the map loads the same areas."""
    collection = reading.geojson(session, principal, active=True, now=now)
    return {"timeline": _timeline(session, principal, collection, now)}


def document_list(
    session: Session,
    principal: Principal,
    now: datetime,
    *,
    page_token: str | None,
    limit: int,
    types: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One page of the documents the participant may see, as the API lists them."""
    return reading.list_visible(session, principal, now=now, limit=limit, page_token=page_token, types=types)


def _protected_header(jws: str) -> dict[str, Any]:
    segment = jws.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _signature_status(session: Session, document: Any, now: datetime) -> dict[str, Any]:
    """Re-verify the stored JWS with the registered key, and say how that key stands today."""
    header = _protected_header(document.jws)
    key = participants_repository.get_key(session, document.kid)
    status: dict[str, Any] = {"alg": header.get("alg"), "kid": document.kid, "typ": header.get("typ")}
    if key is None:
        return {**status, "valid": False, "reason": "the signing key is not registered"}
    try:
        parsed = signature.parse(document.jws, max_size=len(document.jws) + 1)
        signature.verify(parsed, core_jwk.parse_public_jwk(key.jwk))
        status.update(valid=True, reason=None)
    except (signature.JwsError, core_jwk.JwkError) as exc:
        status.update(valid=False, reason=str(exc))
    status.update(
        key_owner=key.participant_code,
        key_family=key.family,
        key_revoked_at=key.revoked_at,
        key_valid_now=key.is_valid_at(now),
        key_valid_when_logged=key.is_valid_at(document.integrated_time),
    )
    return status


def can_acknowledge(principal: Principal, view: dict[str, Any]) -> bool:
    """The addressee of a document who has not acknowledged it yet, with a token that may submit."""
    if view.get("access") != "full" or view["type"] == "acknowledgement" or view["issuer"] == principal.code:
        return False
    if principal.role not in SUBMITTING_ROLES or "submit" not in principal.scopes:
        return False
    if principal.code not in view.get("recipients", []):
        return False
    return all(a["issuer"] != principal.code for a in view.get("acknowledgements", []))


def document_features(view: dict[str, Any]) -> dict[str, Any]:
    """The launch and impact areas of one document's payload, shaped like the GeoJSON reads."""
    payload = view.get("payload") or {}
    common = {
        "document_id": view["id"],
        "issuer": view["issuer"],
        "status": view.get("status"),
        "window_start": (payload.get("window") or {}).get("start"),
        "window_end": (payload.get("window") or {}).get("end"),
        "azimuth_deg": (payload.get("direction") or {}).get("azimuth_deg"),
    }
    features = []
    if payload.get("launch_area"):
        area = payload["launch_area"]
        properties = {**(area.get("properties") or {}), **common, "role": "launch_area"}
        features.append({"type": "Feature", "geometry": area["geometry"], "properties": properties})
    for index, area in enumerate(payload.get("impact_areas") or []):
        properties = {
            **(area.get("properties") or {}),
            **common,
            "role": "impact_area",
            "impact_index": index,
        }
        features.append({"type": "Feature", "geometry": area["geometry"], "properties": properties})
    return {"type": "FeatureCollection", "features": features}


def document_page(session: Session, principal: Principal, document_id: str, now: datetime) -> dict[str, Any]:
    """Everything the document page shows; 404 alike for a missing and an invisible document."""
    document, access = reading.get_visible(session, principal, document_id)
    view = views.view(session, document, access, now)
    context: dict[str, Any] = {"document": view, "full": access == Access.FULL}
    if access != Access.FULL:
        return context
    acknowledged = {a["issuer"]: a for a in view["acknowledgements"]}
    context.update(
        history=reading.history(session, principal, document_id, now),
        signature=_signature_status(session, document, now),
        addressees=[(code, acknowledged.get(code)) for code in view["recipients"]],
        can_acknowledge=can_acknowledge(principal, view),
        features=document_features(view),
        acknowledgement={
            "issuer": principal.code,
            "regime": view["regime"],
            "recipients": [view["issuer"]],
            "references": view["id"],
        },
    )
    return context
