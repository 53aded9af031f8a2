"""The polled feed (CONTRACT §5): CloudEvents in log order, visibility, filters, cursors, long polls."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from app.db import make_engine, make_sessionmaker, session_scope
from app.feed import outbox
from app.main import create_app
from tests.documents.builders import follow_up, pre_launch, submit
from tests.documents.support import assert_problem
from tests.feed.conftest import World, build_world, poll, poll_all
from tests.fixtures import Actor, Exchange

NOW = datetime.now(UTC)


def accept(client, actor, payload) -> str:  # type: ignore[no-untyped-def]
    response = submit(client, actor, payload)
    assert response.status_code == 201, response.text
    return payload["id"]


def test_events_are_cloudevents_in_log_order(world: World) -> None:
    ids = [accept(world.client, world.ind, pre_launch("IND")) for _ in range(3)]
    response = poll(world.client, world.pak, after="0")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    page = response.json()
    assert [e["subject"] for e in page["events"]] == ids
    cursors = [int(e["id"]) for e in page["events"]]
    assert cursors == sorted(cursors) and len(set(cursors)) == 3
    assert page["next"] == page["events"][-1]["id"]
    event = page["events"][0]
    assert set(event) == {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"}
    assert event["specversion"] == "1.0"
    assert event["source"] == "/v1/documents"
    assert event["type"] == "org.lnx.document.pre-launch.v1"
    assert event["datacontenttype"] == "application/json"
    assert event["time"].endswith("Z")
    document = world.client.get(f"/v1/documents/{ids[0]}", headers=world.pak.headers).json()
    assert event["data"] == document


def test_limit_pages_without_loss_or_duplicate(world: World) -> None:
    ids = [accept(world.client, world.ind, pre_launch("IND")) for _ in range(5)]
    seen, cursor = poll_all(world.client, world.pak, limit=2)
    assert [e["subject"] for e in seen] == ids
    assert cursor == seen[-1]["id"]


def test_filters_by_type_issuer_and_regime(world: World) -> None:
    slv = accept(world.client, world.ind, pre_launch("IND"))
    srbm = accept(
        world.client,
        world.ind,
        pre_launch(
            "IND",
            regime="in-pk-2005",
            recipients=["PAK"],
            generic_class="SRBM",
            start=NOW + timedelta(days=4),
        ),
    )
    fra = accept(world.client, world.fra, pre_launch("FRA"))
    cancel = accept(world.client, world.fra, follow_up("FRA", "cancellation", fra))

    def subjects(**params: object) -> list[str]:
        events, _ = poll_all(world.client, world.pak, **params)
        return [e["subject"] for e in events]

    assert subjects() == [slv, srbm, fra, cancel]
    assert subjects(type="cancellation") == [cancel]
    assert subjects(type=["org.lnx.document.cancellation.v1", "pre-launch"]) == [slv, srbm, fra, cancel]
    assert subjects(issuer="FRA") == [fra, cancel]
    assert subjects(regime="in-pk-2005") == [srbm]
    assert subjects(issuer="IND", regime="hcoc") == [slv]


def test_a_reader_who_sees_nothing_still_moves_past_events(world: World) -> None:
    for _ in range(3):
        accept(
            world.client,
            world.ind,
            pre_launch(
                "IND",
                regime="in-pk-2005",
                recipients=["PAK"],
                generic_class="SRBM",
                start=NOW + timedelta(days=4),
            ),
        )
    page = poll(world.client, world.fra, after="0").json()
    assert page["events"] == []
    assert page["next"] == "3"
    # Filtered-out events are passed over the same way.
    page = poll(world.client, world.pak, after="0", type="cancellation").json()
    assert page == {"events": [], "next": "3"}


def test_auditors_see_metadata_unless_entrusted(world: World) -> None:
    doc = accept(world.client, world.ind, pre_launch("IND"))
    full = poll(world.client, world.hcoc_auditor, after="0").json()["events"][0]["data"]
    assert full["access"] == "full" and "payload" in full and "jws" in full
    meta = poll(world.client, world.auditor, after="0").json()["events"][0]["data"]
    assert meta["access"] == "metadata" and meta["id"] == doc
    assert "payload" not in meta and "jws" not in meta


def test_after_latest_starts_at_the_head(world: World) -> None:
    accept(world.client, world.ind, pre_launch("IND"))
    page = poll(world.client, world.pak, after="latest").json()
    assert page == {"events": [], "next": "1"}
    later = accept(world.client, world.ind, pre_launch("IND"))
    assert [e["subject"] for e in poll(world.client, world.pak, after=page["next"]).json()["events"]] == [
        later
    ]


def test_long_poll_returns_as_soon_as_a_document_arrives(world: World) -> None:
    payload = pre_launch("IND")

    def later() -> None:
        time.sleep(0.6)
        accept(world.client, world.ind, payload)

    thread = threading.Thread(target=later)
    started = time.monotonic()
    thread.start()
    response = poll(world.client, world.pak, after="0", wait=20)
    elapsed = time.monotonic() - started
    thread.join(timeout=10)
    assert response.status_code == 200
    assert [e["subject"] for e in response.json()["events"]] == [payload["id"]]
    assert 0.5 < elapsed < 5, elapsed


def test_long_poll_ignores_invisible_events_and_times_out(world: World) -> None:
    def later() -> None:
        time.sleep(0.2)
        accept(
            world.client,
            world.ind,
            pre_launch(
                "IND",
                regime="in-pk-2005",
                recipients=["PAK"],
                generic_class="SRBM",
                start=NOW + timedelta(days=4),
            ),
        )

    thread = threading.Thread(target=later)
    thread.start()
    started = time.monotonic()
    page = poll(world.client, world.fra, after="0", wait=1.5).json()
    elapsed = time.monotonic() - started
    thread.join(timeout=10)
    assert page["events"] == []
    assert 1.4 < elapsed < 5
    assert page["next"] == "1"  # it moved past the event it may not see


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"limit": 0}, 422, "validation-failed"),
        ({"limit": 1001}, 422, "validation-failed"),
        ({"limit": "many"}, 422, "validation-failed"),
        ({"wait": 31}, 422, "validation-failed"),
        ({"wait": -1}, 422, "validation-failed"),
        ({"after": "-1"}, 400, "invalid-cursor"),
        ({"after": "abc"}, 400, "invalid-cursor"),
        ({"after": "1e3"}, 400, "invalid-cursor"),
        ({"after": "1000"}, 400, "invalid-cursor"),  # ahead of the feed: not issued here
        ({"type": "rumour"}, 422, "unknown-event-type"),
    ],
)
def test_bad_parameters_are_problems(world: World, params: dict, status: int, code: str) -> None:
    assert_problem(poll(world.client, world.pak, **params), status, code)


def test_the_feed_needs_a_read_token(world: World) -> None:
    assert_problem(world.client.get("/v1/feed"), 401, "missing-token")


def test_reminders_reach_their_addressee_only(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(settings.resolved_database_url, pool_size=1)
    try:
        for session in session_scope(make_sessionmaker(engine)):
            outbox.append_events(
                session,
                [
                    {
                        "type": outbox.REMINDER_EVENT_TYPE,
                        "subject": "hcoc-2026-declaration",
                        "time": NOW,
                        "addressee": "FRA",
                        "data": {"regime": "hcoc", "year": 2025, "due": "2026-03-31"},
                        "regime": "hcoc",
                    }
                ],
            )
    finally:
        engine.dispose()
    fra = poll(world.client, world.fra, after="0").json()["events"]
    assert [(e["type"], e["data"]) for e in fra] == [
        ("org.lnx.reminder.v1", {"regime": "hcoc", "year": 2025, "due": "2026-03-31"})
    ]
    assert poll(world.client, world.pak, after="0").json() == {"events": [], "next": "1"}
    assert poll(world.client, world.hcoc_auditor, after="0").json()["events"] == []
    assert poll(world.client, world.fra, after="0", type="reminder").json()["events"] == fra


def test_resume_across_a_server_restart(settings, operator_token: str) -> None:  # type: ignore[no-untyped-def]
    """A cursor from one server process continues on the next one: no loss, no duplicate."""
    first_ids: list[str] = []
    with TestClient(create_app(settings)) as client_a:
        world = build_world(Exchange(client=client_a, operator=Actor("ICC", "operator", operator_token)))
        first_ids = [accept(client_a, world.ind, pre_launch("IND")) for _ in range(4)]
        page = poll(client_a, world.pak, after="0", limit=2).json()
        cursor = page["next"]
        seen = [e["subject"] for e in page["events"]]
        pak = world.pak
        ind = world.ind
    with TestClient(create_app(settings)) as client_b:
        second_ids = [accept(client_b, ind, pre_launch("IND")) for _ in range(2)]
        rest, _ = poll_all(client_b, pak, after=cursor, limit=3)
        seen += [e["subject"] for e in rest]
    assert seen == first_ids + second_ids


@pytest.mark.feed_settings(max_streams=1)
def test_too_many_concurrent_polls_is_a_503(live_world: World) -> None:
    import httpx

    client = live_world.client
    holder = threading.Thread(target=lambda: poll(client, live_world.pak, after="latest", wait=3))
    holder.start()
    try:
        time.sleep(0.5)
        with httpx.Client(base_url=str(client.base_url), timeout=10) as other:
            response = poll(other, live_world.fra, after="latest")
        problem = assert_problem(response, 503, "too-many-streams")
        assert response.headers["retry-after"].isdigit()
        assert "streams" in problem["detail"]
    finally:
        holder.join(timeout=10)
    assert poll(client, live_world.fra, after="latest").status_code == 200
