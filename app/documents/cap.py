"""A notification as an OASIS CAP 1.2 alert (CONTRACT §4), for aviation and maritime warning systems.

Built with the ``cap-tools`` bindings (xsdata dataclasses generated from the CAP 1.2 schema) and
serialised by xsdata, never by string templates. The mapping (also in ``docs/documents.md``):

* ``identifier`` = the document id; ``sender`` = ``lnx:<issuer>``; ``sent`` = ``issued_at``;
  ``status`` Actual.
* ``msgType``: ``pre-launch`` Alert; ``pre-launch-update`` Update; ``cancellation`` Cancel;
  ``post-launch`` Update of its chain (Alert when the launch was never announced);
  ``acknowledgement`` Ack. ``references`` lists ``sender,identifier,sent`` of every earlier
  version of the chain (of the acknowledged document for an Ack). Annual declarations have no
  CAP form (404).
* ``scope``: Private with ``addresses`` = the recipients for a confidential regime (CAP 1.2
  §3.2.1: Private needs addresses), otherwise Restricted with a ``restriction`` naming the regime.
* One ``info``: categories Safety and Transport; event "Ballistic missile launch" or "Space
  launch"; urgency from the window (Future, Expected within the hour, Immediate while open,
  Past after it); severity Severe and certainty Likely for a notified hazard, Minor/Unlikely for a
  cancellation, Minor/Observed for a post-launch report; ``onset``/``expires`` = the window.
* Areas in WGS 84: a Polygon's exterior ring as ``<polygon>`` (``lat,lon`` pairs; interior rings
  cannot be expressed in CAP and are left out), each part of a MultiPolygon as its own
  ``<polygon>``, a Point with ``radius_km`` as ``<circle>lat,lon radius</circle>``.

Times follow CAP 1.2 §3.3.2: whole seconds and an explicit offset, with UTC written ``-00:00``
(the letter ``Z`` is not allowed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cap_tools.models import (
    Alert,
    Area,
    Category,
    Certainty,
    Info,
    MsgType,
    Parameter,
    Reference,
    ResponseType,
    Scope,
    Severity,
    Status,
    Urgency,
    Value,
    ValueName,
)
from sqlalchemy.orm import Session
from xsdata.formats.dataclass.serializers import XmlSerializer
from xsdata.formats.dataclass.serializers.config import SerializerConfig
from xsdata.models.datatype import XmlDateTime

from app.auth.service import Principal
from app.db import utcnow
from app.documents import repository
from app.documents.models import Document
from app.documents.visibility import Access
from app.errors import NotFound
from app.participants import repository as participants_repository
from app.regimes import repository as regimes_repository

__all__ = ["alert_for", "CAP_NAMESPACE"]

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
_SERIALIZER = XmlSerializer(config=SerializerConfig(indent="  ", xml_declaration=True, encoding="UTF-8"))
_NOTIFICATIONS = ("pre-launch", "pre-launch-update")


class _CapDateTime(XmlDateTime):
    """``xs:dateTime`` as CAP 1.2 §3.3.2 spells it: ``2026-03-01T06:00:00-00:00``."""

    __slots__ = ()

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}T{self.hour:02d}:{self.minute:02d}:{self.second:02d}-00:00"


def _cap_time(value: datetime | str) -> _CapDateTime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    utc = value.astimezone(UTC).replace(microsecond=0)
    return _CapDateTime.from_datetime(utc)


def _short(value: str) -> str:
    """A payload timestamp for a headline: ``2026-03-01 06:00Z``."""
    return _cap_time(value).to_datetime().strftime("%Y-%m-%d %H:%MZ")


def _reference(document: Document) -> Reference:
    return Reference(f"lnx:{document.issuer}", document.id, _cap_time(document.issued_at))


def _number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _pairs(ring: Sequence[Sequence[float]]) -> str:
    return " ".join(f"{_number(p[1])},{_number(p[0])}" for p in ring)


def _area(feature: dict[str, Any], description: str) -> Area:
    geometry = feature.get("geometry") or {}
    properties = feature.get("properties") or {}
    name = properties.get("name")
    area = Area(area_desc=f"{description}: {name}" if name else description)
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "Point":
        lon, lat = coordinates[0], coordinates[1]
        area.circles.append(f"{_number(lat)},{_number(lon)} {_number(properties['radius_km'])}")
    elif kind == "Polygon":
        area.polygons.append(_pairs(coordinates[0]))
    elif kind == "MultiPolygon":
        area.polygons.extend(_pairs(polygon[0]) for polygon in coordinates)
    return area


def _areas(payload: dict[str, Any], category: str | None) -> list[Area]:
    areas = []
    if payload.get("launch_area"):
        areas.append(_area(payload["launch_area"], "Launch area"))
    what = "Stage drop zone" if category == "space-launch-vehicle" else "Impact area"
    for index, feature in enumerate(payload.get("impact_areas") or [], start=1):
        areas.append(_area(feature, f"{what} {index}"))
    return areas


def _urgency(window: dict[str, Any] | None, now: datetime) -> Urgency:
    if not window:
        return Urgency.UNKNOWN
    start, end = (datetime.fromisoformat(window[k].replace("Z", "+00:00")) for k in ("start", "end"))
    if now > end:
        return Urgency.PAST
    if now >= start:
        return Urgency.IMMEDIATE
    return Urgency.EXPECTED if start - now <= timedelta(hours=1) else Urgency.FUTURE


def _parameters(values: Iterable[tuple[str, Any]]) -> list[Parameter]:
    return [
        Parameter(value_name=ValueName(name), value=Value(str(value)))
        for name, value in values
        if value is not None
    ]


def _azimuth(notification: dict[str, Any]) -> str | None:
    direction = notification.get("direction")
    return _number(direction["azimuth_deg"]) if direction else None


def _describe(payload: dict[str, Any], notification: dict[str, Any]) -> str:
    vehicle = payload.get("vehicle") or notification.get("vehicle") or {}
    lines = [
        f"Vehicle: {vehicle.get('category', 'unknown')}, generic class {vehicle.get('generic_class', 'unknown')}"
        + (f" ({vehicle['designation']})" if vehicle.get("designation") else "")
    ]
    direction = notification.get("direction")
    if direction:
        tolerance = direction.get("tolerance_deg")
        lines.append(
            f"Planned direction of flight: azimuth {_number(direction['azimuth_deg'])} deg"
            + (f" +/- {_number(tolerance)} deg" if tolerance is not None else "")
        )
    for key, label in (("reason", "Reason"), ("outcome", "Outcome"), ("remarks", "Remarks")):
        if payload.get(key):
            lines.append(f"{label}: {payload[key]}")
    return "\n".join(lines)


def _info(document: Document, notification: dict[str, Any], sender_name: str, now: datetime) -> Info:
    """``notification`` is the pre-launch (or update) payload the document is about."""
    payload = document.payload
    vehicle = payload.get("vehicle") or notification.get("vehicle") or {}
    ballistic = vehicle.get("category") == "ballistic-missile"
    event = "Ballistic missile launch" if ballistic else "Space launch"
    window = notification.get("window")
    if document.type == "cancellation":
        urgency, severity, certainty = Urgency.PAST, Severity.MINOR, Certainty.UNLIKELY
        headline = f"{document.issuer} {event.lower()} cancelled"
        instruction = "The notified launch will not take place in this window; the areas are released."
    elif document.type == "post-launch":
        urgency, severity, certainty = Urgency.PAST, Severity.MINOR, Certainty.OBSERVED
        headline = f"{document.issuer} {event.lower()} report: launched {_short(payload['launched_at'])}"
        instruction = None
    else:
        urgency, severity, certainty = _urgency(window, now), Severity.SEVERE, Certainty.LIKELY
        headline = (
            f"{document.issuer} {event.lower()} window {_short(window['start'])} to {_short(window['end'])}"
        )
        instruction = "Avoid the launch and impact areas during the launch window."
    hazard = severity == Severity.SEVERE
    info = Info(
        categories=[Category.SAFETY, Category.TRANSPORT],
        event=event,
        response_types=[ResponseType.AVOID if hazard else ResponseType.ALL_CLEAR],
        urgency=urgency,
        severity=severity,
        certainty=certainty,
        sender_name=sender_name,
        headline=headline[:160],
        description=_describe(payload, notification),
        instruction=instruction,
        parameters=_parameters(
            [
                ("lnx:document", document.id),
                ("lnx:regime", document.regime),
                ("lnx:log_index", document.log_index),
                ("lnx:generic_class", vehicle.get("generic_class")),
                ("lnx:azimuth_deg", _azimuth(notification)),
            ]
        ),
        areas=_areas(
            payload if document.type in _NOTIFICATIONS or payload.get("launch_area") else notification,
            vehicle.get("category"),
        ),
    )
    if document.type == "post-launch" and payload.get("launched_at"):
        info.onset = _cap_time(payload["launched_at"])
    elif window:
        info.onset, info.expires = _cap_time(window["start"]), _cap_time(window["end"])
    return info


def _scope(session: Session, alert: Alert, document: Document) -> None:
    regime = regimes_repository.get_regime(session, document.regime)
    if regime is not None and regime.confidential:
        alert.scope = Scope.PRIVATE
        # Private needs addresses (CAP 1.2 §3.2.1); with no recipient only the issuer reads it.
        recipients = repository.recipients_of(session, [document.id])[document.id]
        alert.addresses_from_list(recipients or [document.issuer])
    else:
        alert.scope = Scope.RESTRICTED
        name = regime.name if regime is not None else document.regime
        alert.restriction = (
            f"For the participants of regime {document.regime} ({name}); not for public release."
        )


def alert_for(session: Session, principal: Principal, document: Document, access: Access) -> bytes:
    """The CAP 1.2 XML of a document the caller reads in full; 404 otherwise and for declarations."""
    if access != Access.FULL:
        raise NotFound(f"no document {document.id}", code="document-not-found")
    if document.type == "annual-declaration":
        raise NotFound("annual declarations have no CAP form", code="no-cap-form")
    now = utcnow()
    alert = Alert(
        identifier=document.id,
        sender=f"lnx:{document.issuer}",
        sent=_cap_time(document.issued_at),
        status=Status.ACTUAL,
        msg_type=MsgType.ALERT,
        scope=Scope.RESTRICTED,
        note=f"lnx log entry {document.log_index}, leaf hash {document.leaf_hash}",
    )
    _scope(session, alert, document)
    if document.type == "acknowledgement":
        alert.msg_type = MsgType.ACK
        target = repository.get_document(session, document.references_id or "")
        alert.references_from_list([_reference(target)] if target is not None else [])
        return _render(alert)
    earlier = [
        d
        for d in (repository.chain_documents(session, document.chain_id) if document.chain_id else [])
        if d.log_index < document.log_index
    ]
    notifications = [d for d in earlier if d.type in _NOTIFICATIONS]
    notification = (
        document.payload
        if document.type in _NOTIFICATIONS
        else (notifications[-1].payload if notifications else {})
    )
    if earlier:
        alert.msg_type = MsgType.CANCEL if document.type == "cancellation" else MsgType.UPDATE
        alert.references_from_list([_reference(d) for d in earlier])
    participant = participants_repository.get_participant(session, document.issuer)
    sender_name = participant.name if participant is not None else document.issuer
    alert.infos.append(_info(document, notification, sender_name, now))
    return _render(alert)


def _render(alert: Alert) -> bytes:
    return _SERIALIZER.render(alert, ns_map={None: CAP_NAMESPACE}).encode("utf-8")
