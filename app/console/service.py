"""What each console page shows, read through the API's own reading functions.

Every read goes through :mod:`app.documents.reading` or :mod:`app.reports` (and so through
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
from app.reports import upcoming

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
    chain_id: str
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


def _bar(start: datetime, stop: datetime, now: datetime) -> tuple[float, float]:
    """Position and width of a window's bar on a timeline of ``HORIZON`` from ``now``."""
    span = HORIZON.total_seconds()
    left = max((start - now).total_seconds(), 0) / span * _TIMELINE_UNITS
    right = min((stop - now).total_seconds(), span) / span * _TIMELINE_UNITS
    width = max(right - left, _MIN_BAR_UNITS)
    return round(min(left, _TIMELINE_UNITS - width), 2), round(width, 2)


def _acknowledgements(
    session: Session, principal: Principal, document_id: str, now: datetime
) -> tuple[int, int]:
    """(acknowledged, addressed) of a document, as its reader sees them."""
    document, access = reading.get_visible(session, principal, document_id)
    detail = views.view(session, document, access, now)
    return len(detail.get("acknowledgements", [])), len(detail.get("recipients", []))


def overview(session: Session, principal: Principal, now: datetime) -> dict[str, Any]:
    """The duty officer's first screen: windows open now or in the next 30 days (the reports
    service's "upcoming"), and overdue post-launch reports; the map loads the same notifications' areas."""
    report = upcoming.upcoming_report(session, principal, days=HORIZON.days, now=now)
    windows = []
    for item in report.windows:
        if item.window_start is None or item.window_end is None:
            continue
        x, width = _bar(item.window_start, item.window_end, now)
        acknowledged, addressed = _acknowledgements(session, principal, item.current_id, now)
        windows.append(
            TimelineWindow(
                document_id=item.current_id,
                chain_id=item.id,
                issuer=item.issuer,
                regime=item.regime,
                status=item.status,
                generic_class=item.generic_class,
                site=item.launch_area,
                start=item.window_start,
                end=item.window_end,
                x=x,
                width=width,
                acknowledged=acknowledged,
                addressed=addressed,
            )
        )
    ticks = [now + timedelta(days=d) for d in range(0, HORIZON.days, 5)]
    return {
        "timeline": Timeline(start=now, end=now + HORIZON, windows=windows, ticks=ticks),
        "overdue": report.overdue_post_launch,
    }


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
