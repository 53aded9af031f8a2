"""Reading documents (CONTRACT §4): list filters, cursor pagination, the raw JWS, GeoJSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.documents.builders import follow_up, point, pre_launch, sign
from tests.documents.support import assert_problem, post_jws, visible_ids

NOW = datetime.now(UTC)


def accept(world, actor, payload: dict) -> str:  # type: ignore[no-untyped-def]
    token = sign(actor, payload)
    response = post_jws(world.client, actor, token)
    assert response.status_code == 201, response.text
    return payload["id"]


@pytest.fixture
def library(world) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Six documents of different types, issuers, regimes, classes, windows and statuses."""
    ids = {
        "slv": accept(world, world.ind, pre_launch("IND", start=NOW + timedelta(days=5))),
        "srbm": accept(
            world,
            world.ind,
            pre_launch(
                "IND",
                regime="in-pk-2005",
                recipients=["PAK"],
                generic_class="SRBM",
                start=NOW + timedelta(days=4),
            ),
        ),
        "fra": accept(world, world.fra, pre_launch("FRA", start=NOW + timedelta(days=30))),
        "past": accept(
            world, world.pak, pre_launch("PAK", generic_class="MRBM", start=NOW - timedelta(days=3), days=1)
        ),
    }
    ids["cancel"] = accept(world, world.fra, follow_up("FRA", "cancellation", ids["fra"]))
    ids["ack"] = accept(world, world.pak, follow_up("PAK", "acknowledgement", ids["slv"], recipients=["IND"]))
    return ids


def listed(world, actor=None, **params) -> list[str]:  # type: ignore[no-untyped-def]
    return visible_ids(world.client, actor or world.hcoc_auditor, **params)


def test_list_is_in_log_order(world, library) -> None:
    assert listed(world, world.ind) == [library[k] for k in ("slv", "srbm", "fra", "past", "cancel", "ack")]


def test_filter_by_type(world, library) -> None:
    assert listed(world, world.ind, type="cancellation") == [library["cancel"]]
    assert listed(world, world.ind, type=["cancellation", "acknowledgement"]) == [
        library["cancel"],
        library["ack"],
    ]


def test_unknown_type_or_status_is_a_query_error(world, library) -> None:
    response = world.client.get("/v1/documents", params={"type": "rumour"}, headers=world.ind.headers)
    assert_problem(response, 422, "validation-failed")
    response = world.client.get("/v1/documents", params={"status": "lost"}, headers=world.ind.headers)
    assert_problem(response, 422, "validation-failed")


def test_filter_by_issuer_and_regime(world, library) -> None:
    assert listed(world, world.ind, issuer="FRA") == [library["fra"], library["cancel"]]
    assert listed(world, world.ind, regime="in-pk-2005") == [library["srbm"]]


def test_filter_by_class(world, library) -> None:
    assert listed(world, world.ind, **{"class": "SRBM"}) == [library["srbm"]]
    assert listed(world, world.ind, **{"class": "SLV"}) == [library["slv"], library["fra"]]


def test_filter_by_window(world, library) -> None:
    soon = {
        "window_from": (NOW + timedelta(days=1)).isoformat(),
        "window_to": (NOW + timedelta(days=10)).isoformat(),
    }
    assert listed(world, world.ind, **soon) == [library["slv"], library["srbm"]]
    assert listed(world, world.ind, window_to=NOW.isoformat()) == [library["past"]]
    assert listed(world, world.ind, window_from=(NOW + timedelta(days=31)).isoformat()) == [library["fra"]]


def test_filter_by_status(world, library) -> None:
    assert listed(world, world.ind, status="scheduled") == [library["slv"], library["srbm"]]
    assert listed(world, world.ind, status="cancelled") == [library["fra"], library["cancel"]]
    assert listed(world, world.ind, status="expired") == [library["past"]]


def test_filters_combine(world, library) -> None:
    assert listed(world, world.ind, issuer="IND", status="scheduled", **{"class": "SLV"}) == [library["slv"]]


def test_cursor_pagination_walks_every_document_once(world, library) -> None:
    seen: list[str] = []
    pages = 0
    params: dict = {"page_size": 2}
    while True:
        body = world.client.get("/v1/documents", params=params, headers=world.ind.headers).json()
        pages += 1
        assert len(body["documents"]) <= 2
        seen.extend(d["id"] for d in body["documents"])
        if body["next_page_token"] is None:
            break
        params["page_token"] = body["next_page_token"]

    assert seen == listed(world, world.ind)
    assert pages == 3


def test_cursor_keeps_filters(world, library) -> None:
    first = world.client.get(
        "/v1/documents", params={"page_size": 1, "issuer": "FRA"}, headers=world.ind.headers
    ).json()
    second = world.client.get(
        "/v1/documents",
        params={"page_size": 1, "issuer": "FRA", "page_token": first["next_page_token"]},
        headers=world.ind.headers,
    ).json()

    assert [d["id"] for d in first["documents"] + second["documents"]] == [library["fra"], library["cancel"]]
    assert second["next_page_token"] is None


@pytest.mark.parametrize("token", ["not-a-token", "aTpub25l", "eDo1", "%%%"])
def test_bad_page_token(world, library, token: str) -> None:
    response = world.client.get("/v1/documents", params={"page_token": token}, headers=world.ind.headers)

    assert_problem(response, 400, "invalid-page-token")


def test_page_size_must_be_positive(world, library) -> None:
    response = world.client.get("/v1/documents", params={"page_size": 0}, headers=world.ind.headers)

    assert_problem(response, 422, "validation-failed")


def test_list_entries_carry_the_document_but_not_the_detail(world, library) -> None:
    body = world.client.get(
        "/v1/documents", params={"type": "pre-launch", "page_size": 1}, headers=world.ind.headers
    ).json()

    entry = body["documents"][0]
    assert entry["id"] == library["slv"] and entry["status"] == "scheduled"
    assert entry["payload"]["vehicle"]["generic_class"] == "SLV" and entry["jws"].count(".") == 2
    assert "acknowledgements" not in entry


def test_accept_jose_returns_the_exact_jws(world) -> None:
    token = sign(world.ind, pre_launch("IND"))
    location = post_jws(world.client, world.ind, token).headers["location"]

    raw = world.client.get(location, headers={**world.ind.headers, "accept": "application/jose"})
    as_json = world.client.get(location, headers={**world.ind.headers, "accept": "application/json"})

    assert raw.content == token.encode() and raw.headers["content-type"] == "application/jose"
    assert as_json.json()["jws"] == token


def test_unknown_document_is_404(world) -> None:
    response = world.client.get("/v1/documents/IND-2026-404", headers=world.ind.headers)

    assert_problem(response, 404, "document-not-found")


def features_by_document(world, active: bool) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    response = world.client.get("/v1/documents.geojson", params={"active": active}, headers=world.ind.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    out: dict[str, list[str]] = {}
    for feature in collection["features"]:
        out.setdefault(feature["properties"]["document_id"], []).append(feature["properties"]["role"])
    return out


def test_geojson_active_shows_open_notifications_only(world, library) -> None:
    active = features_by_document(world, active=True)
    everything = features_by_document(world, active=False)

    assert set(active) == {library["slv"], library["srbm"]}
    assert set(everything) == {library["slv"], library["srbm"], library["fra"], library["past"]}
    assert active[library["slv"]] == ["launch_area", "impact_area"]


def test_geojson_shows_the_current_version_of_a_chain(world) -> None:
    original = accept(world, world.ind, pre_launch("IND"))
    update = pre_launch("IND", type_="pre-launch-update", references=original, launch=point(81.0, 14.5, 8))
    accept(world, world.ind, update)

    collection = world.client.get("/v1/documents.geojson", headers=world.ind.headers).json()

    launch, impact = collection["features"]
    assert {launch["properties"]["document_id"], impact["properties"]["document_id"]} == {update["id"]}
    assert launch["properties"]["chain_id"] == original
    assert launch["properties"]["status"] == "updated"
    assert launch["geometry"] == {"type": "Point", "coordinates": [81.0, 14.5]}
    assert launch["properties"]["radius_km"] == 8
