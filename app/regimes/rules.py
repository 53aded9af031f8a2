"""Evaluate a notification against a regime's rules: pure, returns findings, never refuses.

CONTRACT §2: breaches of a regime's rules (late notice, window too long, keep-out distance)
are *accepted and recorded* as findings -- a late notification is still better than none.
So :func:`evaluate` only describes; the service stores its findings with the document.

Decisions (also in ``docs/regimes.md``):

* Advance notice runs from ``received_at`` (the exchange's receipt time, which the issuer
  cannot backdate; ``issued_at`` is the issuer's claim) to ``window.start``, the earliest
  possible launch. That is conservative for the minimum notice and lenient for the maximum.
* Thresholds are inclusive: exactly 72 h of notice, a window of exactly 5 days, a launch
  site exactly 40 km away all comply.
* Only ``pre-launch`` and ``pre-launch-update`` are checked; other types get no findings.
* A vehicle outside the regime's scope gets one ``class.not_covered`` warning and no other
  finding: the agreement's limits do not apply to launches it does not cover.
* Keep-out distances are minimum geodesic distances on WGS 84 (``app.documents.geo``);
  a circle counts as centre distance minus radius; a trajectory is the geodesic from the
  launch centre to each impact centre. Without a boundary an ``info`` finding says the
  distances could not be checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from shapely.geometry.base import BaseGeometry

from app.documents import geo
from app.documents.payloads import AnyPayload, PreLaunch, PreLaunchUpdate, parse_payload
from app.regimes.profiles import RegimeProfile, RegimeRules

__all__ = ["CHECKED_TYPES", "Finding", "Severity", "evaluate", "evaluate_profile"]

Severity = Literal["info", "warning", "breach"]
CHECKED_TYPES = ("pre-launch", "pre-launch-update")


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation about a document: ``rule`` is a stable id such as ``notice.min``."""

    rule: str
    severity: Severity
    message: str
    source: str
    details: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used in receipts and document views."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "source": self.source,
            "details": dict(self.details),
        }


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.2f} h"


class _Evaluation:
    """Collects findings; knows where each rule's source citation lives."""

    def __init__(self, rules: RegimeRules, sources: Mapping[str, str]) -> None:
        self.rules = rules
        self.sources = sources
        self.findings: list[Finding] = []

    def add(self, rule: str, severity: Severity, message: str, setting: str, **details: Any) -> None:
        source = self.sources.get(setting) or f"regime setting {setting}"
        self.findings.append(Finding(rule, severity, message, source, details))

    def timing(self, payload: PreLaunch | PreLaunchUpdate, received_at: datetime) -> None:
        rules, window = self.rules, payload.window
        notice = window.start - received_at
        if rules.min_notice_hours is not None and notice < timedelta(hours=rules.min_notice_hours):
            late = (
                "received after the window opened" if notice < timedelta(0) else f"notice of {_hours(notice)}"
            )
            self.add(
                "notice.min",
                "breach",
                f"Late notice: {late}; the regime requires at least {rules.min_notice_hours:g} h before the window",
                "min_notice_hours",
                notice_seconds=notice.total_seconds(),
                min_notice_hours=rules.min_notice_hours,
            )
        if rules.max_notice_days is not None and notice > timedelta(days=rules.max_notice_days):
            self.add(
                "notice.max",
                "breach",
                f"Early notice: {_hours(notice)} before the window; the regime allows at most "
                f"{rules.max_notice_days:g} days",
                "max_notice_days",
                notice_seconds=notice.total_seconds(),
                max_notice_days=rules.max_notice_days,
            )
        length = window.end - window.start
        if rules.max_window_days is not None and length > timedelta(days=rules.max_window_days):
            self.add(
                "window.max_length",
                "breach",
                f"Launch window of {_hours(length)} is longer than the {rules.max_window_days:g} days allowed",
                "max_window_days",
                window_seconds=length.total_seconds(),
                max_window_days=rules.max_window_days,
            )

    def keep_out(self, payload: PreLaunch | PreLaunchUpdate, boundary: BaseGeometry | None) -> None:
        rules = self.rules
        limits = (rules.launch_site_min_km, rules.impact_min_km, rules.trajectory_min_km)
        if all(limit is None for limit in limits) and not rules.requires_boundary:
            return
        if boundary is None or boundary.is_empty:
            self.add(
                "keepout.boundary_missing",
                "info",
                "No boundary is loaded for this regime: keep-out distances were not checked",
                "requires_boundary",
            )
            return
        launch = payload.launch_area.model_dump(mode="json")
        impacts = [area.model_dump(mode="json") for area in payload.impact_areas]
        if rules.launch_site_min_km is not None:
            distance = geo.feature_distance_km(launch, boundary)
            if distance < rules.launch_site_min_km:
                self.add(
                    "keepout.launch_site",
                    "breach",
                    f"Launch area is {distance:.1f} km from the boundary; at least "
                    f"{rules.launch_site_min_km:g} km is required",
                    "launch_site_min_km",
                    distance_km=round(distance, 3),
                    min_km=rules.launch_site_min_km,
                )
        for index, impact in enumerate(impacts):
            if rules.impact_min_km is not None:
                distance = geo.feature_distance_km(impact, boundary)
                if distance < rules.impact_min_km:
                    self.add(
                        "keepout.impact_area",
                        "breach",
                        f"Impact area {index} is {distance:.1f} km from the boundary; at least "
                        f"{rules.impact_min_km:g} km is required",
                        "impact_min_km",
                        impact_index=index,
                        distance_km=round(distance, 3),
                        min_km=rules.impact_min_km,
                    )
            if rules.trajectory_min_km is not None:
                self._trajectory(launch, impact, index, boundary, rules.trajectory_min_km)

    def _trajectory(
        self,
        launch: dict[str, Any],
        impact: dict[str, Any],
        index: int,
        boundary: BaseGeometry,
        min_km: float,
    ) -> None:
        line = geo.trajectory_line(launch, impact)
        crosses = line.intersects(boundary)
        distance = 0.0 if crosses else geo.geodesic_distance_km(line, boundary)
        if crosses or distance < min_km:
            what = "crosses the boundary" if crosses else f"passes {distance:.1f} km from the boundary"
            self.add(
                "keepout.trajectory",
                "breach",
                f"Trajectory to impact area {index} {what}; it must stay at least {min_km:g} km away",
                "trajectory_min_km",
                impact_index=index,
                crosses=crosses,
                distance_km=round(distance, 3),
                min_km=min_km,
            )


def evaluate(
    payload: AnyPayload | Mapping[str, Any],
    rules: RegimeRules,
    received_at: datetime,
    boundary: BaseGeometry | None,
    *,
    sources: Mapping[str, str] | None = None,
) -> list[Finding]:
    """The findings of one document under ``rules``; ``[]`` when it complies.

    ``payload`` must have passed :func:`app.documents.payloads.validate_payload` (a dict is
    parsed again here); ``received_at`` is the exchange's timezone-aware receipt time;
    ``boundary`` is the regime's lon/lat boundary geometry, if the operator loaded one;
    ``sources`` (a profile's) supply each finding's citation.
    """
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    model = payload if not isinstance(payload, Mapping) else parse_payload(dict(payload))
    if not isinstance(model, PreLaunch | PreLaunchUpdate):
        return []
    evaluation = _Evaluation(rules, sources or {})
    vehicle = model.vehicle
    if not rules.covers(vehicle.category, vehicle.generic_class):
        evaluation.add(
            "class.not_covered",
            "warning",
            f"The regime does not cover a {vehicle.category} of class {vehicle.generic_class}; "
            "recorded as a voluntary notification",
            "covered_categories"
            if rules.covered_categories is not None and vehicle.category not in rules.covered_categories
            else "covered_classes",
            category=vehicle.category,
            generic_class=vehicle.generic_class,
        )
        return evaluation.findings
    evaluation.timing(model, received_at)
    evaluation.keep_out(model, boundary)
    return evaluation.findings


def evaluate_profile(
    payload: AnyPayload | Mapping[str, Any],
    profile: RegimeProfile,
    received_at: datetime,
    boundary: BaseGeometry | None,
) -> list[Finding]:
    """:func:`evaluate` with a profile's rules and source citations."""
    return evaluate(payload, profile.rules, received_at, boundary, sources=profile.sources)
