"""Regime rules through the HTTP API (CONTRACT §2, §7): at and around every threshold, a breach is a
*finding* on an accepted document (201), never a refusal.

Notice is measured from the exchange's receipt time, so timing thresholds are probed a minute
either side (the request itself takes far less). Keep-out distances are probed ±2.5 km around the
limit against a synthetic boundary on the equator, where positions a given geodesic distance away
are exact meridian arcs (computed here with pyproj, independently of the server's search).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pyproj import Geod

from tests.documents.builders import point, pre_launch, sign
from tests.documents.support import post_jws

MINUTE = timedelta(minutes=1)
GEOD = Geod(ellps="WGS84")
EQUATOR = {"type": "LineString", "coordinates": [[60.0, 0.0], [80.0, 0.0]]}


def submit(world, actor, payload: dict) -> dict:  # type: ignore[no-untyped-def]
    response = post_jws(world.client, actor, sign(actor, payload))
    assert response.status_code == 201, response.text
    stored = world.client.get(f"/v1/documents/{payload['id']}", headers=actor.headers).json()
    assert stored["findings"] == response.json()["findings"]
    return response.json()


def rules(receipt: dict) -> set[str]:
    return {f["rule"] for f in receipt["findings"]}


def north_of_equator(lon: float, km: float) -> float:
    """The latitude ``km`` north of the equator along the meridian ``lon``."""
    _, lat, _ = GEOD.fwd(lon, 0.0, 0.0, km * 1000)
    return lat


def circle(lon: float, km_from_equator: float, radius_km: float) -> dict[str, Any]:
    """A circle whose *edge* is ``km_from_equator`` from the boundary (the centre is radius further)."""
    return point(lon, north_of_equator(lon, km_from_equator + radius_km), radius_km)


def set_boundary(world, geometry: dict) -> None:  # type: ignore[no-untyped-def]
    response = world.client.put(
        "/v1/regimes/in-pk-2005/boundary", json={"geometry": geometry}, headers=world.operator.headers
    )
    assert response.status_code == 200, response.text


def srbm(world, **kw: Any) -> dict:  # type: ignore[no-untyped-def]
    kw.setdefault("start", datetime.now(UTC) + timedelta(days=4))
    return submit(
        world,
        world.ind,
        pre_launch("IND", regime="in-pk-2005", recipients=["PAK"], generic_class="SRBM", **kw),
    )


# --- in-pk-2005: notice ≥ 72 h, window ≤ 5 days --------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "late"), [(+MINUTE, False), (-MINUTE, True), (-timedelta(hours=70), True)]
)
def test_in_pk_notice_of_72_hours(world, offset: timedelta, late: bool) -> None:
    receipt = srbm(world, start=datetime.now(UTC) + timedelta(hours=72) + offset)

    assert ("notice.min" in rules(receipt)) is late


def test_in_pk_late_notice_finding_says_why_and_cites_the_agreement(world) -> None:
    receipt = srbm(world, start=datetime.now(UTC) + timedelta(hours=48))

    [finding] = [f for f in receipt["findings"] if f["rule"] == "notice.min"]
    assert finding["severity"] == "breach"
    assert "Art 2" in finding["source"]
    assert 47 * 3600 < finding["details"]["notice_seconds"] <= 48 * 3600
    assert finding["details"]["min_notice_hours"] == 72


def test_notice_after_the_window_opened_is_still_accepted(world) -> None:
    receipt = srbm(world, start=datetime.now(UTC) - timedelta(hours=1))

    assert "notice.min" in rules(receipt)
    assert "after the window opened" in next(
        f["message"] for f in receipt["findings"] if f["rule"] == "notice.min"
    )


@pytest.mark.parametrize(
    ("length", "too_long"), [(timedelta(days=5), False), (timedelta(days=5) + MINUTE, True)]
)
def test_in_pk_window_of_five_days(world, length: timedelta, too_long: bool) -> None:
    receipt = srbm(world, days=length / timedelta(days=1))

    assert ("window.max_length" in rules(receipt)) is too_long


def test_update_is_checked_again_at_its_own_receipt_time(world) -> None:
    start = datetime.now(UTC) + timedelta(hours=72) + timedelta(minutes=2)
    original = srbm(world, start=start)
    assert "notice.min" not in rules(original)

    payload = pre_launch(
        "IND",
        type_="pre-launch-update",
        references=original["id"],
        regime="in-pk-2005",
        recipients=["PAK"],
        generic_class="SRBM",
        start=start - timedelta(hours=2),
    )
    update = submit(world, world.ind, payload)

    assert "notice.min" in rules(update)


def test_space_launches_are_outside_in_pk_scope(world) -> None:
    receipt = submit(
        world,
        world.ind,
        pre_launch(
            "IND", regime="in-pk-2005", recipients=["PAK"], start=datetime.now(UTC) + timedelta(hours=1)
        ),
    )

    assert rules(receipt) == {"class.not_covered"}


# --- in-pk-2005: keep-out distances from the boundary --------------------------------------------


def test_without_a_boundary_distances_are_not_checked(world) -> None:
    receipt = srbm(world, launch=circle(70.0, 1.0, 1), impacts=[circle(70.0, 2.0, 1)])

    assert rules(receipt) == {"keepout.boundary_missing"}
    assert receipt["findings"][0]["severity"] == "info"


@pytest.mark.parametrize(("km", "breach"), [(42.5, False), (37.5, True)])
def test_launch_site_40_km_from_the_boundary(world, km: float, breach: bool) -> None:
    set_boundary(world, EQUATOR)

    receipt = srbm(world, launch=circle(70.0, km, radius_km=5), impacts=[circle(70.0, 300.0, 5)])

    assert rules(receipt) == ({"keepout.launch_site"} if breach else set())
    if breach:
        assert receipt["findings"][0]["details"]["distance_km"] == pytest.approx(km, abs=0.5)


@pytest.mark.parametrize(("km", "breach"), [(72.5, False), (67.5, True)])
def test_impact_area_70_km_from_the_boundary(world, km: float, breach: bool) -> None:
    set_boundary(world, EQUATOR)

    receipt = srbm(
        world, launch=circle(70.0, 300.0, 5), impacts=[circle(70.0, 500.0, 5), circle(71.0, km, radius_km=10)]
    )

    assert rules(receipt) == ({"keepout.impact_area"} if breach else set())
    if breach:
        [finding] = receipt["findings"]
        assert finding["details"]["impact_index"] == 1
        assert finding["details"]["distance_km"] == pytest.approx(km, abs=0.5)


@pytest.mark.parametrize(("km", "breach"), [(42.5, False), (37.5, True)])
def test_trajectory_40_km_from_the_boundary(world, km: float, breach: bool) -> None:
    # A spike in the boundary under the middle of an east-west flight 1.5° north of the equator:
    # launch and impact are far from the boundary, the path passes ``km`` above the spike's apex.
    flight_lat = 1.5
    _, apex_lat, _ = GEOD.fwd(71.0, flight_lat, 180.0, km * 1000)
    spike = {
        "type": "LineString",
        "coordinates": [[60.0, 0.0], [70.0, 0.0], [71.0, apex_lat], [72.0, 0.0], [80.0, 0.0]],
    }
    set_boundary(world, spike)

    receipt = srbm(world, launch=point(69.0, flight_lat, 1), impacts=[point(73.0, flight_lat, 1)])

    assert rules(receipt) == ({"keepout.trajectory"} if breach else set())
    if breach:
        assert receipt["findings"][0]["details"]["crosses"] is False
        assert receipt["findings"][0]["details"]["distance_km"] == pytest.approx(km, abs=0.5)


def test_trajectory_across_the_boundary(world) -> None:
    set_boundary(world, EQUATOR)

    receipt = srbm(
        world, launch=circle(70.0, 300.0, 5), impacts=[point(70.0, -north_of_equator(70.0, 300.0), 5)]
    )

    [finding] = [f for f in receipt["findings"] if f["rule"] == "keepout.trajectory"]
    assert finding["details"]["crosses"] is True


# --- us-ru-1988: notice ≥ 24 h, ICBM and SLBM only -----------------------------------------------


@pytest.fixture
def usa(world):  # type: ignore[no-untyped-def]
    world.exchange.add("RUS", regimes=("us-ru-1988", "cn-ru-2009"))
    return world.exchange.add("USA", regimes=("us-ru-1988",))


@pytest.mark.parametrize(("offset", "late"), [(+MINUTE, False), (-MINUTE, True)])
def test_us_ru_notice_of_24_hours(world, usa, offset: timedelta, late: bool) -> None:
    payload = pre_launch(
        "USA",
        regime="us-ru-1988",
        generic_class="ICBM",
        start=datetime.now(UTC) + timedelta(hours=24) + offset,
    )

    receipt = submit(world, usa, payload)

    assert rules(receipt) == ({"notice.min"} if late else set())


@pytest.mark.parametrize(
    ("generic_class", "covered"), [("ICBM", True), ("SLBM", True), ("IRBM", False), ("SLV", False)]
)
def test_us_ru_covers_icbm_and_slbm(world, usa, generic_class: str, covered: bool) -> None:
    payload = pre_launch(
        "USA", regime="us-ru-1988", generic_class=generic_class, start=datetime.now(UTC) + timedelta(hours=1)
    )

    receipt = submit(world, usa, payload)

    # Outside the agreement's scope only the voluntary-notification warning is recorded.
    assert rules(receipt) == ({"notice.min"} if covered else {"class.not_covered"})


# --- cn-ru-2009: notice ≤ 30 days and ≥ 24 h -----------------------------------------------------


@pytest.fixture
def chn(world):  # type: ignore[no-untyped-def]
    world.exchange.add("RUS", regimes=("us-ru-1988", "cn-ru-2009"))
    return world.exchange.add("CHN", regimes=("cn-ru-2009",))


@pytest.mark.parametrize(
    ("start_in", "expected"),
    [
        (timedelta(days=30) - MINUTE, set()),
        (timedelta(days=30) + MINUTE, {"notice.max"}),
        (timedelta(hours=24) + MINUTE, set()),
        (timedelta(hours=24) - MINUTE, {"notice.min"}),
    ],
)
def test_cn_ru_notice_between_24_hours_and_30_days(
    world, chn, start_in: timedelta, expected: set[str]
) -> None:
    payload = pre_launch("CHN", regime="cn-ru-2009", recipients=["RUS"], start=datetime.now(UTC) + start_in)

    receipt = submit(world, chn, payload)

    assert rules(receipt) == expected


@pytest.mark.parametrize(
    ("generic_class", "covered"), [("IRBM", True), ("SLV", True), ("MRBM", False), ("SRBM", False)]
)
def test_cn_ru_covers_long_range_missiles_and_slvs(world, chn, generic_class: str, covered: bool) -> None:
    payload = pre_launch("CHN", regime="cn-ru-2009", recipients=["RUS"], generic_class=generic_class)

    receipt = submit(world, chn, payload)

    assert ("class.not_covered" not in rules(receipt)) is covered


# --- hcoc: no timing rules ------------------------------------------------------------------------


def test_hcoc_fixes_no_notice_or_window(world) -> None:
    receipt = submit(
        world, world.ind, pre_launch("IND", start=datetime.now(UTC) + timedelta(minutes=5), days=30)
    )

    assert receipt["findings"] == []
