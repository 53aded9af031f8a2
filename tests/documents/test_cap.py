"""CAP 1.2 alerts of notifications (CONTRACT §4), read back with the independent ``capparser``
package and with ``xml.etree`` (namespace, element order, time format)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import capparser
import pytest

from tests.documents.builders import box, follow_up, point, pre_launch, sign, ts
from tests.documents.support import assert_problem, post_jws

NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")  # CAP 1.2 §3.3.2: no "Z", no fraction


@pytest.fixture(autouse=True)
def _fresh_capparser_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """capparser 2.0.4's ``Info.__init__`` has a mutable default (``category=[Other]``) that every
    parsed ``<category>`` is appended to, so the second Info it builds raises. Give it a fresh list."""
    original = capparser.element.Info.__init__

    def init(self, category=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, [capparser.enums.Category.Other] if category is None else category, *args, **kwargs)

    monkeypatch.setattr(capparser.element.Info, "__init__", init)


def accept(world, actor, payload: dict) -> dict:  # type: ignore[no-untyped-def]
    response = post_jws(world.client, actor, sign(actor, payload))
    assert response.status_code == 201, response.text
    return payload


def cap_xml(world, doc_id: str, actor=None) -> bytes:  # type: ignore[no-untyped-def]
    response = world.client.get(f"/v1/documents/{doc_id}.cap", headers=(actor or world.ind).headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/cap+xml")
    return response.content


def value(element: Any, name: str) -> Any:
    """capparser keeps each member as (value, position); a repeated element becomes a list."""
    return getattr(element, name)[0]


def cap_sent(iso: str) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S-00:00")


def test_pre_launch_is_an_alert_with_polygons_and_circles(world) -> None:
    ring = [[86.0, 8.0], [87.5, 8.0], [87.5, 9.25], [86.0, 9.25], [86.0, 8.0]]
    payload = accept(
        world,
        world.ind,
        pre_launch(
            "IND",
            launch=point(80.2345678, 13.72, 5, "Sriharikota"),
            impacts=[
                {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {}},
                point(90.0, 5.0, 25),
            ],
        ),
    )

    xml = cap_xml(world, payload["id"])
    alert = capparser.parse(stringXML=xml)

    assert value(alert, "identifier") == payload["id"]
    assert value(alert, "sender") == "lnx:IND"
    assert value(alert, "sent") == cap_sent(payload["issued_at"])
    assert value(alert, "status") == "Actual"
    assert value(alert, "msgType") == "Alert"
    assert value(alert, "scope") == "Restricted"
    assert "hcoc" in value(alert, "restriction")
    assert value(alert, "references") is None
    [info] = value(alert, "info")
    assert value(info, "event") == "Space launch"
    assert value(info, "urgency") == "Future"
    assert value(info, "headline").startswith("IND space launch window 20")
    assert value(info, "severity") == "Severe" and value(info, "certainty") == "Likely"
    assert value(info, "onset") == cap_sent(payload["window"]["start"])
    assert value(info, "expires") == cap_sent(payload["window"]["end"])
    launch, polygon_area, circle_area = value(info, "area")
    assert value(launch, "areaDesc") == "Launch area: Sriharikota"
    assert value(launch, "circle") == "13.72,80.234568 5"
    assert value(polygon_area, "areaDesc") == "Stage drop zone 1"
    assert value(polygon_area, "polygon") == "8,86 8,87.5 9.25,87.5 9.25,86 8,86"
    assert value(circle_area, "circle") == "5,90 25"


def test_times_and_namespace_follow_cap_12(world) -> None:
    payload = accept(world, world.ind, pre_launch("IND"))

    root = ET.fromstring(cap_xml(world, payload["id"]))

    assert [c.text for c in root.findall("cap:info/cap:category", NS)] == ["Safety", "Transport"]
    assert root.tag == "{urn:oasis:names:tc:emergency:cap:1.2}alert"
    for path in ("cap:sent", "cap:info/cap:onset", "cap:info/cap:expires"):
        assert CAP_TIME.match(root.findtext(path, namespaces=NS) or ""), path
    # The schema's sequence: identifier, sender, sent, status, msgType, source?, scope, ...
    order = [child.tag.split("}")[1] for child in root]
    assert order[:5] == ["identifier", "sender", "sent", "status", "msgType"]
    assert order.index("scope") < order.index("info")


def test_multipolygon_becomes_one_polygon_per_part(world) -> None:
    parts = [box(86.0, 8.0, 0.25)["geometry"]["coordinates"], box(88.0, 8.0, 0.25)["geometry"]["coordinates"]]
    impact = {"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": parts}, "properties": {}}
    payload = accept(world, world.ind, pre_launch("IND", impacts=[impact]))

    root = ET.fromstring(cap_xml(world, payload["id"]))

    polygons = [p.text for p in root.findall("cap:info/cap:area[2]/cap:polygon", NS)]
    assert polygons == [
        "7.75,85.75 7.75,86.25 8.25,86.25 8.25,85.75 7.75,85.75",
        "7.75,87.75 7.75,88.25 8.25,88.25 8.25,87.75 7.75,87.75",
    ]


def test_update_references_every_earlier_version(world) -> None:
    original = accept(world, world.ind, pre_launch("IND"))
    first = accept(world, world.ind, pre_launch("IND", type_="pre-launch-update", references=original["id"]))
    second = accept(world, world.ind, pre_launch("IND", type_="pre-launch-update", references=first["id"]))

    alert = capparser.parse(stringXML=cap_xml(world, second["id"]))

    assert value(alert, "msgType") == "Update"
    assert value(alert, "references").split(" ") == [
        f"lnx:IND,{original['id']},{cap_sent(original['issued_at'])}",
        f"lnx:IND,{first['id']},{cap_sent(first['issued_at'])}",
    ]
    [info] = value(alert, "info")
    assert value(info, "onset") == cap_sent(second["window"]["start"])


def test_cancellation_is_a_cancel_with_the_released_areas(world) -> None:
    original = accept(world, world.ind, pre_launch("IND"))
    update = accept(
        world,
        world.ind,
        pre_launch("IND", type_="pre-launch-update", references=original["id"], launch=point(81.0, 14.0, 3)),
    )
    cancellation = accept(
        world, world.ind, follow_up("IND", "cancellation", update["id"], reason="range weather")
    )

    alert = capparser.parse(stringXML=cap_xml(world, cancellation["id"]))

    assert value(alert, "msgType") == "Cancel"
    assert [r.split(",")[1] for r in value(alert, "references").split(" ")] == [original["id"], update["id"]]
    [info] = value(alert, "info")
    assert value(info, "responseType") == "AllClear"
    assert value(info, "urgency") == "Past"
    assert "range weather" in value(info, "description")
    assert value(value(info, "area")[0], "circle") == "14,81 3"


def test_post_launch_report_updates_its_chain(world) -> None:
    original = accept(world, world.ind, pre_launch("IND", start=datetime.now(UTC) + timedelta(hours=2)))
    launched = ts(datetime.now(UTC))
    report = accept(
        world,
        world.ind,
        follow_up(
            "IND",
            "post-launch",
            original["id"],
            launched_at=launched,
            outcome="nominal",
            vehicle={"category": "space-launch-vehicle", "generic_class": "SLV"},
        ),
    )

    alert = capparser.parse(stringXML=cap_xml(world, report["id"]))

    assert value(alert, "msgType") == "Update"
    assert value(alert, "references").split(",")[1] == original["id"]
    [info] = value(alert, "info")
    assert value(info, "certainty") == "Observed"
    assert value(info, "onset") == cap_sent(launched)


def test_acknowledgement_is_an_ack(world) -> None:
    notification = accept(world, world.ind, pre_launch("IND"))
    ack = accept(
        world, world.pak, follow_up("PAK", "acknowledgement", notification["id"], recipients=["IND"])
    )

    alert = capparser.parse(stringXML=cap_xml(world, ack["id"], world.pak))

    assert value(alert, "msgType") == "Ack"
    assert value(alert, "sender") == "lnx:PAK"
    assert value(alert, "references") == f"lnx:IND,{notification['id']},{cap_sent(notification['issued_at'])}"
    assert value(alert, "info") == []


def test_confidential_regime_is_private_and_addressed(world) -> None:
    payload = accept(
        world, world.ind, pre_launch("IND", regime="in-pk-2005", recipients=["PAK"], generic_class="SRBM")
    )

    alert = capparser.parse(stringXML=cap_xml(world, payload["id"], world.pak))

    assert value(alert, "scope") == "Private"
    assert value(alert, "addresses") == "PAK"
    assert value(alert, "restriction") is None
    [info] = value(alert, "info")
    assert value(info, "event") == "Ballistic missile launch"
    assert value(value(info, "area")[1], "areaDesc") == "Impact area 1"


def test_confidential_star_recipients_are_listed_as_addresses(world) -> None:
    payload = accept(
        world, world.ind, pre_launch("IND", regime="in-pk-2005", recipients=["*"], generic_class="SRBM")
    )

    root = ET.fromstring(cap_xml(world, payload["id"]))

    assert root.findtext("cap:scope", namespaces=NS) == "Private"
    assert root.findtext("cap:addresses", namespaces=NS) == "PAK"


def test_annual_declaration_has_no_cap_form(world) -> None:
    declaration = follow_up("IND", "annual-declaration", "unused")
    del declaration["references"]
    declaration.update(year=2025, ballistic_missile_policy="p", slv_policy="s", launches=[], launch_sites=[])
    accept(world, world.ind, declaration)

    response = world.client.get(f"/v1/documents/{declaration['id']}.cap", headers=world.ind.headers)

    assert_problem(response, 404, "no-cap-form")


@pytest.mark.parametrize("reader", ["auditor", "fra"])
def test_cap_is_404_without_full_access(world, reader: str) -> None:
    payload = accept(world, world.ind, pre_launch("IND", recipients=["PAK"]))

    response = world.client.get(f"/v1/documents/{payload['id']}.cap", headers=getattr(world, reader).headers)

    assert_problem(response, 404, "document-not-found")


@pytest.mark.parametrize(
    ("start_in", "days", "urgency"),
    [
        (timedelta(days=3), 1, "Future"),
        (timedelta(minutes=30), 1, "Expected"),
        (timedelta(hours=-1), 1, "Immediate"),
        (timedelta(days=-3), 1, "Past"),
    ],
)
def test_urgency_follows_the_window(world, start_in: timedelta, days: int, urgency: str) -> None:
    payload = accept(world, world.ind, pre_launch("IND", start=datetime.now(UTC) + start_in, days=days))

    root = ET.fromstring(cap_xml(world, payload["id"]))

    assert root.findtext("cap:info/cap:urgency", namespaces=NS) == urgency


def test_private_alert_without_recipients_is_addressed_to_its_issuer(world) -> None:
    # cn-ru-2009 is confidential; with IND its only member, "*" expands to nobody.
    joined = world.client.post(
        "/v1/regimes/cn-ru-2009/members", json={"participant": "IND"}, headers=world.operator.headers
    )
    assert joined.status_code == 200, joined.text
    payload = accept(world, world.ind, pre_launch("IND", regime="cn-ru-2009", recipients=["*"]))

    root = ET.fromstring(cap_xml(world, payload["id"]))

    assert root.findtext("cap:scope", namespaces=NS) == "Private"
    assert root.findtext("cap:addresses", namespaces=NS) == "IND"
