"""Regimes: the shipped profiles, membership, entrusted auditors, rules and boundary data."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.participants import service as participants_service
from app.regimes import repository
from app.regimes.models import Regime, RegimeAuditor, RegimeMembership
from app.regimes.profiles import SHIPPED_PROFILES, RegimeRules
from app.regimes.schemas import RegimeOut, RegimeUpdate

__all__ = [
    "ensure_shipped_regimes",
    "get_regime",
    "regime_out",
    "join",
    "leave",
    "add_auditor",
    "remove_auditor",
    "update_regime",
    "set_boundary",
    "rules_of",
]


def ensure_shipped_regimes(session: Session) -> list[str]:
    """Insert the shipped profiles that are missing; never overwrite an operator's edits."""
    added = []
    for profile in SHIPPED_PROFILES:
        if repository.get_regime(session, profile.id) is None:
            session.add(
                Regime(
                    id=profile.id,
                    name=profile.name,
                    description=profile.description,
                    multilateral=profile.multilateral,
                    confidential=profile.confidential,
                    rules=profile.rules.to_dict(),
                    sources=dict(profile.sources),
                )
            )
            added.append(profile.id)
    session.flush()
    return added


def get_regime(session: Session, regime_id: str) -> Regime:
    regime = repository.get_regime(session, regime_id)
    if regime is None:
        raise NotFound(f"no regime {regime_id}", code="regime-not-found")
    return regime


def rules_of(regime: Regime) -> RegimeRules:
    return RegimeRules.from_dict(regime.rules)


def regime_out(session: Session, regime: Regime) -> RegimeOut:
    return RegimeOut(
        id=regime.id,
        name=regime.name,
        description=regime.description,
        multilateral=regime.multilateral,
        confidential=regime.confidential,
        rules=regime.rules,
        sources=regime.sources,
        members=repository.member_codes(session, regime.id),
        auditors=repository.auditor_codes(session, regime.id),
        has_boundary=regime.boundary is not None,
        updated_at=regime.updated_at,
    )


def join(session: Session, regime_id: str, code: str) -> Regime:
    regime = get_regime(session, regime_id)
    participant = participants_service.get_participant(session, code)
    if participant.role not in ("state", "observer"):
        raise ValidationFailed(
            "only states and observers are members of a regime; auditors are entrusted separately",
            errors=[{"pointer": "/participant", "message": f"role {participant.role} cannot be a member"}],
        )
    if repository.active_membership(session, regime_id, code) is not None:
        raise Conflict(f"{code} is already a member of {regime_id}", code="already-member")
    session.add(RegimeMembership(regime_id=regime_id, participant_code=code, joined_at=utcnow()))
    session.flush()
    return regime


def leave(session: Session, regime_id: str, code: str) -> Regime:
    regime = get_regime(session, regime_id)
    membership = repository.active_membership(session, regime_id, code)
    if membership is None:
        raise NotFound(f"{code} is not a member of {regime_id}", code="not-member")
    membership.left_at = utcnow()
    session.flush()
    return regime


def add_auditor(session: Session, regime_id: str, code: str) -> Regime:
    regime = get_regime(session, regime_id)
    participant = participants_service.get_participant(session, code)
    if participant.role != "auditor":
        raise ValidationFailed(
            "only an auditor can be entrusted",
            errors=[{"pointer": "/participant", "message": "not an auditor"}],
        )
    if session.get(RegimeAuditor, (regime_id, code)) is not None:
        raise Conflict(f"{code} already audits {regime_id}", code="already-auditor")
    session.add(RegimeAuditor(regime_id=regime_id, participant_code=code))
    session.flush()
    return regime


def remove_auditor(session: Session, regime_id: str, code: str) -> Regime:
    regime = get_regime(session, regime_id)
    row = session.get(RegimeAuditor, (regime_id, code))
    if row is None:
        raise NotFound(f"{code} does not audit {regime_id}", code="not-auditor")
    session.delete(row)
    session.flush()
    return regime


def update_regime(session: Session, regime_id: str, data: RegimeUpdate) -> Regime:
    regime = get_regime(session, regime_id)
    changes = data.model_dump(exclude_unset=True)
    if "rules" in changes and changes["rules"] is not None:
        try:
            changes["rules"] = RegimeRules.from_dict(changes["rules"]).to_dict()
        except (TypeError, ValueError, KeyError) as exc:
            raise ValidationFailed(str(exc), errors=[{"pointer": "/rules", "message": str(exc)}]) from exc
    for field, value in changes.items():
        if value is not None:
            setattr(regime, field, value)
    regime.updated_at = utcnow()
    session.flush()
    return regime


_BOUNDARY_TYPES = {"LineString", "MultiLineString", "Polygon", "MultiPolygon"}


def set_boundary(session: Session, regime_id: str, geometry: dict[str, Any]) -> Regime:
    """Store the boundary the keep-out rules measure from (operator data, e.g. IB/LoC for in-pk-2005)."""
    from shapely.geometry import shape

    regime = get_regime(session, regime_id)
    if geometry.get("type") == "Feature":
        geometry = geometry.get("geometry") or {}
    if geometry.get("type") not in _BOUNDARY_TYPES:
        raise ValidationFailed(
            "the boundary must be a LineString, MultiLineString, Polygon or MultiPolygon",
            errors=[{"pointer": "/geometry/type", "message": "unsupported geometry type"}],
        )
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise ValidationFailed(
            "the boundary geometry is malformed", errors=[{"pointer": "/geometry", "message": str(exc)}]
        ) from exc
    if geom.is_empty or not geom.is_valid:
        raise ValidationFailed(
            "the boundary geometry is empty or invalid",
            errors=[{"pointer": "/geometry", "message": "invalid"}],
        )
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise ValidationFailed(
            "coordinates out of range",
            errors=[{"pointer": "/geometry/coordinates", "message": "lon/lat out of range"}],
        )
    regime.boundary = geometry
    regime.updated_at = utcnow()
    session.flush()
    return regime
