"""Regime rules at and around every threshold, with a synthetic boundary (meridian 70°E, 20–35°N)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from shapely.geometry import LineString

from app.documents.geo import GEOD
from app.documents.payloads import parse_payload
from app.regimes.profiles import RegimeRules, shipped_profile
from app.regimes.rules import Finding, evaluate, evaluate_profile

START = datetime(2026, 3, 10, tzinfo=UTC)
SECOND = timedelta(seconds=1)
BOUNDARY = LineString([(70, 20), (70, 35)])
IN_PK = shipped_profile("in-pk-2005").rules
US_RU = shipped_profile("us-ru-1988").rules
CN_RU = shipped_profile("cn-ru-2009").rules
HCOC = shipped_profile("hcoc").rules


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def offset(km: float, lat: float = 27.5) -> tuple[float, float]:
    """A point ``km`` east (negative: west) of the boundary, along the perpendicular geodesic."""
    lon, lat2, _ = GEOD.fwd(70, lat, 90 if km >= 0 else 270, abs(km) * 1000)
    return float(lon), float(lat2)


def circle_at(point: tuple[float, float], radius_km: float = 0.5) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": list(point)},
        "properties": {"radius_km": radius_km},
    }


def notification(
    *,
    window_days: float = 4,
    generic_class: str = "SRBM",
    category: str = "ballistic-missile",
    launch_km: float = 100,
    impact_km: tuple[float, ...] = (150,),
    kind: str = "pre-launch",
    **launch: Any,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": kind,
        "id": "PAK-2026-7",
        "issuer": "PAK",
        "issued_at": "2026-01-01T00:00:00Z",
        "regime": "in-pk-2005",
        "recipients": ["IND"],
        "vehicle": {"category": category, "generic_class": generic_class},
        "window": {"start": stamp(START), "end": stamp(START + timedelta(days=window_days))},
        "launch_area": circle_at(offset(launch_km, 24), launch.get("radius_km", 0.5)),
        "direction": {"azimuth_deg": 0},
        "impact_areas": [circle_at(offset(km, 30)) for km in impact_km],
    }
    if kind == "pre-launch-update":
        payload["references"] = "PAK-2026-6"
    return payload


def rules_of(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


# -------------------------------------------------------------------------- notice


@pytest.mark.parametrize(
    ("rules", "hours"), [(IN_PK, 72), (US_RU, 24), (CN_RU, 24)], ids=["in-pk", "us-ru", "cn-ru"]
)
@pytest.mark.parametrize(("delta", "breach"), [(timedelta(0), False), (SECOND, False), (-SECOND, True)])
def test_minimum_notice_threshold(rules: RegimeRules, hours: int, delta: timedelta, breach: bool) -> None:
    received = START - timedelta(hours=hours) - delta  # delta > 0: one second more notice
    payload = notification(generic_class="ICBM" if rules is not IN_PK else "SRBM")
    findings = evaluate(payload, rules, received, BOUNDARY)
    assert ("notice.min" in rules_of(findings)) is breach
    if breach:
        [finding] = [f for f in findings if f.rule == "notice.min"]
        assert finding.severity == "breach"
        assert finding.details["notice_seconds"] == hours * 3600 - 1


def test_notice_is_measured_from_receipt_not_issue() -> None:
    payload = notification()
    payload["issued_at"] = stamp(START - timedelta(days=10))
    findings = evaluate(payload, IN_PK, START - timedelta(hours=71), BOUNDARY)
    assert rules_of(findings) == ["notice.min"]


def test_notice_received_after_the_window_opened() -> None:
    [finding] = evaluate(notification(), IN_PK, START + timedelta(hours=1), BOUNDARY)
    assert finding.rule == "notice.min" and "after the window opened" in finding.message


@pytest.mark.parametrize(("delta", "breach"), [(timedelta(0), False), (-SECOND, False), (SECOND, True)])
def test_maximum_notice_threshold(delta: timedelta, breach: bool) -> None:
    received = START - timedelta(days=30) - delta  # delta > 0: one second too early
    findings = evaluate(notification(generic_class="ICBM"), CN_RU, received, None)
    assert rules_of(findings) == (["notice.max"] if breach else [])


@pytest.mark.parametrize(("delta", "breach"), [(timedelta(0), False), (-SECOND, False), (SECOND, True)])
def test_window_length_threshold(delta: timedelta, breach: bool) -> None:
    payload = notification()
    payload["window"]["end"] = stamp(START + timedelta(days=5) + delta)
    findings = evaluate(payload, IN_PK, START - timedelta(days=4), BOUNDARY)
    assert rules_of(findings) == (["window.max_length"] if breach else [])


# ------------------------------------------------------------------------ coverage


@pytest.mark.parametrize(
    ("rules", "category", "generic_class", "covered"),
    [
        (US_RU, "ballistic-missile", "ICBM", True),
        (US_RU, "ballistic-missile", "SLBM", True),
        (US_RU, "ballistic-missile", "IRBM", False),
        (US_RU, "space-launch-vehicle", "SLV", False),
        (IN_PK, "ballistic-missile", "SRBM", True),
        (IN_PK, "space-launch-vehicle", "SLV", False),
        (CN_RU, "ballistic-missile", "MRBM", False),
        (CN_RU, "ballistic-missile", "other", True),
        (CN_RU, "space-launch-vehicle", "other", True),
        (HCOC, "space-launch-vehicle", "SLV", True),
    ],
)
def test_class_coverage(rules: RegimeRules, category: str, generic_class: str, covered: bool) -> None:
    payload = notification(category=category, generic_class=generic_class, window_days=30)
    received = START + timedelta(days=1)  # late and long: ignored for a launch the regime does not cover
    findings = evaluate(payload, rules, received, BOUNDARY)
    if covered:
        assert "class.not_covered" not in rules_of(findings)
    else:
        assert [(f.rule, f.severity) for f in findings] == [("class.not_covered", "warning")]


COMMON = {"issuer": "PAK", "issued_at": "2026-01-01T00:00:00Z", "regime": "in-pk-2005", "recipients": ["IND"]}
OTHER_TYPES = [
    {"type": "cancellation", "id": "PAK-2026-8", "references": "PAK-2026-7", **COMMON},
    {"type": "acknowledgement", "id": "PAK-2026-9", "references": "IND-2026-1", **COMMON},
    {
        "type": "post-launch",
        "id": "PAK-2026-10",
        "launched_at": "2026-03-11T00:00:00Z",
        "outcome": "failure",
        "vehicle": {"category": "ballistic-missile", "generic_class": "SRBM"},
        "launch_area": circle_at(offset(1)),
        **COMMON,
    },
]


@pytest.mark.parametrize("payload", OTHER_TYPES, ids=lambda p: p["type"])
def test_other_types_get_no_findings(payload: dict[str, Any]) -> None:
    assert evaluate(payload, IN_PK, START + timedelta(days=99), BOUNDARY) == []


def test_updates_are_checked_too() -> None:
    payload = notification(kind="pre-launch-update")
    assert rules_of(evaluate(payload, IN_PK, START, BOUNDARY)) == ["notice.min"]


def test_model_and_dict_give_the_same_findings() -> None:
    payload = notification(launch_km=10)
    received = START - timedelta(hours=1)
    assert evaluate(payload, IN_PK, received, BOUNDARY) == evaluate(
        parse_payload(payload), IN_PK, received, BOUNDARY
    )


def test_received_at_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(notification(), IN_PK, datetime(2026, 1, 1), BOUNDARY)


# ------------------------------------------------------------------------- keep-out

RECEIVED = START - timedelta(days=4)


@pytest.mark.parametrize(("km", "breach"), [(39, True), (41, False)])
def test_launch_site_keep_out(km: float, breach: bool) -> None:
    findings = evaluate(notification(launch_km=km), IN_PK, RECEIVED, BOUNDARY)
    # the trajectory starts at the launch centre, so it is too close as well
    assert rules_of(findings) == (["keepout.launch_site", "keepout.trajectory"] if breach else [])
    if breach:
        assert findings[0].details["distance_km"] == pytest.approx(km - 0.5, abs=0.01)  # minus the radius


def test_launch_circle_radius_counts() -> None:
    findings = evaluate(notification(launch_km=45, radius_km=6), IN_PK, RECEIVED, BOUNDARY)
    assert rules_of(findings) == ["keepout.launch_site"]
    assert findings[0].details["distance_km"] == pytest.approx(39, abs=0.01)


@pytest.mark.parametrize(("km", "breach"), [(69.5, True), (71, False)])
def test_impact_area_keep_out(km: float, breach: bool) -> None:
    findings = evaluate(notification(impact_km=(150, km)), IN_PK, RECEIVED, BOUNDARY)
    assert rules_of(findings) == (["keepout.impact_area"] if breach else [])
    if breach:
        assert findings[0].details["impact_index"] == 1


def test_trajectory_crossing_the_boundary() -> None:
    findings = evaluate(notification(launch_km=41, impact_km=(-71,)), IN_PK, RECEIVED, BOUNDARY)
    assert rules_of(findings) == ["keepout.trajectory"]
    assert findings[0].details["crosses"] is True and "crosses" in findings[0].message


@pytest.mark.parametrize(("km", "breach"), [(39, True), (41, False)])
def test_trajectory_distance(km: float, breach: bool) -> None:
    rules = RegimeRules(trajectory_min_km=40, requires_boundary=True)
    # launch and impact both `km` east, 6° apart: the path runs parallel to the boundary
    findings = evaluate(notification(launch_km=km, impact_km=(km,)), rules, RECEIVED, BOUNDARY)
    assert rules_of(findings) == (["keepout.trajectory"] if breach else [])
    if breach:
        assert findings[0].details["crosses"] is False
        assert findings[0].details["distance_km"] == pytest.approx(km, abs=0.05)


def test_missing_boundary_is_reported_as_info() -> None:
    findings = evaluate(notification(launch_km=1), IN_PK, RECEIVED, None)
    assert [(f.rule, f.severity) for f in findings] == [("keepout.boundary_missing", "info")]
    assert evaluate(notification(launch_km=1), HCOC, RECEIVED, None) == []  # no keep-out rules at all


def test_findings_carry_sources_and_serialise() -> None:
    profile = shipped_profile("in-pk-2005")
    findings = evaluate_profile(notification(launch_km=10), profile, START, BOUNDARY)
    assert rules_of(findings) == ["notice.min", "keepout.launch_site", "keepout.trajectory"]
    assert findings[0].source == profile.sources["min_notice_hours"]
    assert findings[1].source == profile.sources["launch_site_min_km"]
    json.dumps([f.to_dict() for f in findings])
    assert (
        evaluate(notification(launch_km=10), IN_PK, START, BOUNDARY)[0].source
        == "regime setting min_notice_hours"
    )
