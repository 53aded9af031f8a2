"""Sample notifications for ``lnx demo``: signed with the demo keys and accepted through the same
intake and service path as ``POST /v1/documents``, then integrated into the log.

The story (times are relative to the moment of seeding; places are real, missions invented):

* IND notifies an SLV launch from Sriharikota under the HCoC, window in five days, stage drop
  zones in the Bay of Bengal and the Indian Ocean; RUS and FRA acknowledge it.
* FRA notifies an SLV launch from Kourou, then cancels it.
* IND notifies PAK of a ballistic-missile test under the bilateral, confidential in-pk-2005
  agreement with only two days' notice: accepted, with a ``notice.min`` finding (Art 2 asks for
  three). PAK acknowledges it; FRA and the others do not see it at all.
* USA notifies RUS of an ICBM test under us-ru-1988 and reports the launch. The exchange stamps
  receipt times itself and a seeded demo cannot backdate them, so for the report to follow the
  launch the window must already be open on receipt: that notification carries a late-notice
  finding too, which is what the rules say about such data.
* IND files its annual HCoC declaration on the previous year.

Idempotent: a document whose id exists is skipped, so a second ``lnx demo`` adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lnx_client.core import jws as core_jws
from sqlalchemy.orm import Session, sessionmaker

from app.auth.service import Principal
from app.config import Settings
from app.db import session_scope, utcnow
from app.documents import intake, repository, service
from app.log import service as log_service
from app.log.signer import load_or_create_signer
from app.participants import repository as participants_repository

__all__ = ["seed_documents", "demo_documents"]


@dataclass(frozen=True, slots=True)
class DemoDocument:
    issuer: str
    payload: dict[str, Any]


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _circle(lon: float, lat: float, radius_km: float, name: str | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"radius_km": radius_km}
    if name:
        properties["name"] = name
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": properties,
    }


def _zone(name: str, *corners: tuple[float, float]) -> dict[str, Any]:
    ring = [[lon, lat] for lon, lat in corners] + [[corners[0][0], corners[0][1]]]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"name": name},
    }


SRIHARIKOTA = (80.23, 13.72)
KOUROU = (-52.77, 5.24)
ABDUL_KALAM_ISLAND = (87.09, 20.76)
VANDENBERG = (-120.57, 34.74)
KWAJALEIN = (167.47, 9.40)
SLV = {"category": "space-launch-vehicle", "generic_class": "SLV"}


def demo_documents(now: datetime) -> list[DemoDocument]:
    """The sample documents in submission order; ids carry the current year so they stay stable."""
    year = now.year
    ind_slv, fra_slv, ind_test, usa_icbm = (
        f"IND-{year}-0101",
        f"FRA-{year}-0101",
        f"IND-{year}-0102",
        f"USA-{year}-0101",
    )

    def common(issuer: str, doc_type: str, doc_id: str, regime: str, recipients: list[str]) -> dict[str, Any]:
        return {
            "type": doc_type,
            "id": doc_id,
            "issuer": issuer,
            "issued_at": _ts(now),
            "regime": regime,
            "recipients": recipients,
        }

    def ack(issuer: str, serial: str, of: str, to: str, regime: str) -> DemoDocument:
        payload = common(issuer, "acknowledgement", f"{issuer}-{year}-{serial}", regime, [to])
        return DemoDocument(issuer, {**payload, "references": of})

    slv_start = (now + timedelta(days=5)).replace(minute=0, second=0, microsecond=0)
    kourou_start = (now + timedelta(days=12)).replace(minute=0, second=0, microsecond=0)
    test_start = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    icbm_start = now - timedelta(hours=3)
    return [
        DemoDocument(
            "IND",
            {
                **common("IND", "pre-launch", ind_slv, "hcoc", ["*"]),
                "vehicle": {**SLV, "designation": "PSLV-XL"},
                "window": {"start": _ts(slv_start), "end": _ts(slv_start + timedelta(days=2))},
                "launch_area": _circle(*SRIHARIKOTA, 5, "Satish Dhawan Space Centre, Sriharikota"),
                "direction": {"azimuth_deg": 140.0, "tolerance_deg": 5.0},
                "impact_areas": [
                    _zone(
                        "PS1 drop zone, Bay of Bengal", (81.2, 11.4), (82.4, 11.4), (82.4, 12.4), (81.2, 12.4)
                    ),
                    _zone("PS2 drop zone, Indian Ocean", (83.4, 2.0), (85.0, 2.0), (85.0, 4.0), (83.4, 4.0)),
                ],
                "remarks": "Earth-observation satellite to sun-synchronous orbit.",
            },
        ),
        ack("RUS", "0101", ind_slv, "IND", "hcoc"),
        ack("FRA", "0102", ind_slv, "IND", "hcoc"),
        DemoDocument(
            "FRA",
            {
                **common("FRA", "pre-launch", fra_slv, "hcoc", ["*"]),
                "vehicle": {**SLV, "designation": "Ariane 6"},
                "window": {"start": _ts(kourou_start), "end": _ts(kourou_start + timedelta(hours=6))},
                "launch_area": _circle(*KOUROU, 8, "Centre Spatial Guyanais, Kourou"),
                "direction": {"azimuth_deg": 90.0},
                "impact_areas": [
                    _zone(
                        "Booster drop zone, Atlantic", (-50.2, 5.2), (-48.8, 5.2), (-48.8, 6.6), (-50.2, 6.6)
                    ),
                    _circle(-14.0, 2.5, 150, "Core stage impact, Gulf of Guinea approaches"),
                ],
            },
        ),
        DemoDocument(
            "FRA",
            {
                **common("FRA", "cancellation", f"FRA-{year}-0103", "hcoc", ["*"]),
                "references": fra_slv,
                "reason": "Launch postponed after the launch readiness review; a new notification will follow.",
            },
        ),
        DemoDocument(
            "IND",
            {
                **common("IND", "pre-launch", ind_test, "in-pk-2005", ["PAK"]),
                "vehicle": {
                    "category": "ballistic-missile",
                    "generic_class": "SRBM",
                    "designation": "Prithvi-II",
                },
                "window": {"start": _ts(test_start), "end": _ts(test_start + timedelta(days=4))},
                "launch_area": _circle(*ABDUL_KALAM_ISLAND, 3, "Integrated Test Range, Abdul Kalam Island"),
                "direction": {"azimuth_deg": 150.0, "tolerance_deg": 10.0},
                "impact_areas": [_circle(88.3, 18.6, 30, "Impact area, Bay of Bengal")],
            },
        ),
        ack("PAK", "0101", ind_test, "IND", "in-pk-2005"),
        DemoDocument(
            "USA",
            {
                **common("USA", "pre-launch", usa_icbm, "us-ru-1988", ["*"]),
                "vehicle": {
                    "category": "ballistic-missile",
                    "generic_class": "ICBM",
                    "designation": "Minuteman III",
                },
                "window": {"start": _ts(icbm_start), "end": _ts(icbm_start + timedelta(hours=6))},
                "launch_area": _circle(*VANDENBERG, 10, "Vandenberg Space Force Base"),
                "direction": {"azimuth_deg": 255.0},
                "impact_areas": [_circle(*KWAJALEIN, 50, "Reagan Test Site, Kwajalein Atoll")],
            },
        ),
        ack("RUS", "0102", usa_icbm, "USA", "us-ru-1988"),
        DemoDocument(
            "USA",
            {
                **common("USA", "post-launch", f"USA-{year}-0102", "us-ru-1988", ["*"]),
                "references": usa_icbm,
                "launched_at": _ts(icbm_start + timedelta(hours=2)),
                "outcome": "nominal",
                "vehicle": {
                    "category": "ballistic-missile",
                    "generic_class": "ICBM",
                    "designation": "Minuteman III",
                },
                "impact_areas": [_circle(*KWAJALEIN, 20, "Reagan Test Site, Kwajalein Atoll")],
            },
        ),
        DemoDocument(
            "IND",
            {
                **common("IND", "annual-declaration", f"IND-{year}-0103", "hcoc", ["*"]),
                "year": year - 1,
                "ballistic_missile_policy": "Credible minimum deterrence; flight tests are notified in advance.",
                "slv_policy": "Civil space programme under the Indian Space Research Organisation.",
                "launches": [
                    {**SLV, "count": 5},
                    {"category": "ballistic-missile", "generic_class": "SRBM", "count": 3},
                    {"category": "ballistic-missile", "generic_class": "IRBM", "count": 1},
                ],
                "launch_sites": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": list(SRIHARIKOTA)},
                        "properties": {"name": "Sriharikota", "category": "space-launch-vehicle"},
                    },
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": list(ABDUL_KALAM_ISLAND)},
                        "properties": {"name": "Abdul Kalam Island", "category": "ballistic-missile"},
                    },
                ],
            },
        ),
    ]


def _signers(key_files: Mapping[str, str | Path]) -> Callable[[str], core_jws.JwkSigner]:
    cache: dict[str, core_jws.JwkSigner] = {}

    def signer(code: str) -> core_jws.JwkSigner:
        if code not in cache:
            cache[code] = core_jws.JwkSigner(json.loads(Path(key_files[code]).read_text(encoding="utf-8")))
        return cache[code]

    return signer


def _accept(session: Session, settings: Settings, issuer: str, token: str) -> None:
    """What ``POST /v1/documents`` does, minus HTTP and group commit."""
    participant = participants_repository.get_participant(session, issuer)
    if participant is None:
        raise RuntimeError(f"demo participant {issuer} is missing")
    principal = Principal(
        code=issuer, role=participant.role, token_id="demo", scopes=frozenset({"read", "submit"})
    )
    taken = intake.take_in(session, principal, token, max_size=settings.max_body_bytes, now=utcnow())
    service.accept(session, taken, utcnow())


def seed_documents(
    settings: Settings, factory: sessionmaker[Session], key_files: Mapping[str, str | Path]
) -> list[str]:
    """Accept the demo documents that are missing, integrate the log; return every demo id."""
    documents = demo_documents(utcnow())
    signer = _signers(key_files)
    for document in documents:
        for session in session_scope(factory):
            if repository.get_document(session, document.payload["id"]) is None:
                _accept(
                    session,
                    settings,
                    document.issuer,
                    core_jws.sign_compact(document.payload, signer(document.issuer)),
                )
    log_signer = load_or_create_signer(settings)
    while True:
        for session in session_scope(factory):
            checkpoint = log_service.integrate(session, log_signer, settings.log_origin)
        if checkpoint is None:
            break
    return [document.payload["id"] for document in documents]
