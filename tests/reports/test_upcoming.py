"""GET /v1/reports/upcoming: windows open or opening soon, and notifications overdue a report."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.documents.builders import follow_up, point, pre_launch
from tests.reports.support import Seeded, accept, post_launch, seed_year


@pytest.fixture
def seeded(exchange) -> Seeded:  # type: ignore[no-untyped-def]
    """The seeded year (PAK's N5 is overdue) plus windows around now."""
    seeded = seed_year(exchange)
    c, ind, pak, ids = seeded.client, seeded.ind, seeded.pak, seeded.ids
    now = datetime.now(UTC)
    ids["SOON"] = accept(
        c, ind, pre_launch("IND", start=now + timedelta(days=3), launch=point(80.2, 13.7, 5, "Sriharikota"))
    )
    ids["OPEN"] = accept(
        c, ind, pre_launch("IND", start=now - timedelta(hours=1), days=1, generic_class="IRBM")
    )
    ids["BILATERAL"] = accept(
        c, pak, pre_launch("PAK", start=now + timedelta(days=20), generic_class="SRBM", recipients=["IND"])
    )
    ids["FAR"] = accept(c, ind, pre_launch("IND", start=now + timedelta(days=100)))
    ids["CANCELLED"] = accept(c, ind, pre_launch("IND", start=now + timedelta(days=2)))
    accept(c, ind, follow_up("IND", "cancellation", ids["CANCELLED"]))
    ids["MOVED"] = accept(c, pak, pre_launch("PAK", start=now + timedelta(days=40), generic_class="MRBM"))
    ids["MOVED_UPDATE"] = accept(
        c,
        pak,
        pre_launch(
            "PAK",
            type_="pre-launch-update",
            references=ids["MOVED"],
            start=now + timedelta(days=5),
            generic_class="MRBM",
        ),
    )
    ids["LAUNCHED"] = accept(c, ind, pre_launch("IND", start=now + timedelta(days=1)))
    accept(c, ind, post_launch("IND", now, "SLV", references=ids["LAUNCHED"]))
    return seeded


def upcoming(seeded: Seeded, actor: Any, **params: Any) -> dict[str, Any]:
    response = seeded.client.get("/v1/reports/upcoming", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_windows_in_the_next_days_in_order(seeded: Seeded) -> None:
    ids = seeded.ids
    body = upcoming(seeded, seeded.ind)
    assert body["days"] == 7
    assert [w["id"] for w in body["windows"]] == [ids["OPEN"], ids["SOON"], ids["MOVED"]]
    soon = body["windows"][1]
    assert soon == {
        "id": ids["SOON"],
        "current_id": ids["SOON"],
        "issuer": "IND",
        "regime": "hcoc",
        "category": "space-launch-vehicle",
        "generic_class": "SLV",
        "window_start": soon["window_start"],
        "window_end": soon["window_end"],
        "status": "scheduled",
        "launch_area": "Sriharikota",
    }
    moved = body["windows"][2]
    assert (moved["current_id"], moved["status"]) == (ids["MOVED_UPDATE"], "updated")
    assert "geometry" not in str(body)

    wider = upcoming(seeded, seeded.ind, days=30)
    assert [w["id"] for w in wider["windows"]] == [ids["OPEN"], ids["SOON"], ids["MOVED"], ids["BILATERAL"]]
    assert ids["FAR"] not in [w["id"] for w in upcoming(seeded, seeded.ind, days=90)["windows"]]


def test_overdue_post_launch_reports(seeded: Seeded) -> None:
    ids = seeded.ids
    overdue = upcoming(seeded, seeded.fra)["overdue_post_launch"]
    assert [(w["id"], w["issuer"], w["status"]) for w in overdue] == [(ids["N5"], "PAK", "expired")]


def test_only_what_the_caller_may_read(seeded: Seeded) -> None:
    ids = seeded.ids
    fra = upcoming(seeded, seeded.fra, days=30)
    assert ids["BILATERAL"] not in str(fra)
    assert [w["id"] for w in fra["windows"]] == [ids["OPEN"], ids["SOON"], ids["MOVED"]]
    for actor in (seeded.exchange.operator, seeded.outsider):
        empty = upcoming(seeded, actor, days=90)
        assert empty["windows"] == [] and empty["overdue_post_launch"] == []
    audited = upcoming(seeded, seeded.auditor, days=30)
    assert ids["BILATERAL"] in [w["id"] for w in audited["windows"]]


def test_days_bounds_and_csv(seeded: Seeded) -> None:
    c, headers = seeded.client, seeded.ind.headers
    for days in (0, 91):
        assert c.get("/v1/reports/upcoming", params={"days": days}, headers=headers).status_code == 422
    body = upcoming(seeded, seeded.ind, days=30)
    response = c.get("/v1/reports/upcoming", params={"days": 30}, headers={**headers, "Accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(response.text)))
    expected = [("window", w) for w in body["windows"]] + [
        ("overdue_post_launch", w) for w in body["overdue_post_launch"]
    ]
    assert [(line["section"], line["id"], line["status"]) for line in lines] == [
        (section, w["id"], w["status"]) for section, w in expected
    ]
    for line, (_, window) in zip(lines, expected, strict=True):
        assert line["launch_area"] == (window["launch_area"] or "")
        assert line["generic_class"] == window["generic_class"]
        assert datetime.fromisoformat(line["window_start"]) == datetime.fromisoformat(window["window_start"])
