"""Reminders: due at 30, 7 and 1 days and for overdue post-launch reports; each sent once.

Time is driven through the ``now`` parameter of the check. The year declared on is 2030, so the
deadline (31 March 2031) and the windows lie in the future of the real clock, whatever today is.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import session_scope
from app.feed.models import FeedEvent
from app.main import create_app
from app.reports import lifecycle, reminders
from app.reports.models import ReportReminder
from tests.documents.builders import pre_launch
from tests.reports.support import accept, declaration, set_rules

DECLARED_YEAR = 2030


def t(month: int, day: int, hour: int = 0, year: int = DECLARED_YEAR + 1) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def world(exchange) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """IND, PAK, FRA in hcoc (deadline 31 March); FRA has declared on 2030; an observer in hcoc."""
    actors = {code: exchange.add(code, regimes=("hcoc",)) for code in ("IND", "PAK", "FRA")}
    actors["OBS"] = exchange.add("OBS", role="observer", scopes="read,submit", regimes=("hcoc",))
    set_rules(exchange, declaration_deadline="03-31")
    accept(exchange.client, actors["FRA"], declaration("FRA", DECLARED_YEAR, []))
    return {"exchange": exchange, **actors}


def run(client: TestClient, now: datetime) -> list[tuple[str, str, str]]:
    sent = lifecycle.run_once(client.app.state.sessionmaker, now)  # type: ignore[attr-defined]
    return sorted((r.kind, r.participant, r.key) for r in sent)


def reminder_events(client: TestClient) -> list[FeedEvent]:
    for session in session_scope(client.app.state.sessionmaker, read_only=True):  # type: ignore[attr-defined]
        events = list(
            session.scalars(
                select(FeedEvent).where(FeedEvent.type == "org.lnx.reminder.v1").order_by(FeedEvent.seq)
            )
        )
    return events


def feed(client: TestClient, actor: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/feed", params={"limit": 1000}, headers=actor.headers)
    assert response.status_code == 200, response.text
    return [e for e in response.json()["events"] if e["type"] == "org.lnx.reminder.v1"]


def test_declaration_reminders_at_30_7_and_1_days(world: dict[str, Any]) -> None:
    client = world["exchange"].client
    assert run(client, t(3, 1, 12)) == []  # 30.5 days before the end of 31 March
    due_30 = [("declaration-due", "IND", "2030:30d"), ("declaration-due", "PAK", "2030:30d")]
    assert run(client, t(3, 2, 12)) == due_30  # FRA has declared; the observer declares nothing
    assert run(client, t(3, 2, 12)) == []
    assert run(client, t(3, 20)) == []  # still within 30 days: nothing new
    accept(client, world["PAK"], declaration("PAK", DECLARED_YEAR, []))
    assert run(client, t(3, 25)) == [("declaration-due", "IND", "2030:7d")]
    assert run(client, t(3, 31, 1)) == [("declaration-due", "IND", "2030:1d")]
    assert run(client, t(4, 1, 0)) == []  # the deadline has passed: no reminder after it

    event = reminder_events(client)[-1]
    assert (event.addressee, event.subject, event.regime, event.document_id) == (
        "IND",
        "declaration/hcoc/2030",
        "hcoc",
        None,
    )
    assert event.data is not None
    assert {k: event.data[k] for k in ("kind", "regime", "year", "due", "days_left", "deadline")} == {
        "kind": "declaration-due",
        "regime": "hcoc",
        "year": 2030,
        "due": "2031-03-31",
        "days_left": 1,
        "deadline": "2031-04-01T00:00:00Z",
    }


def test_after_an_outage_only_the_nearest_milestone_is_sent(world: dict[str, Any]) -> None:
    client = world["exchange"].client
    assert run(client, t(3, 28)) == [("declaration-due", c, "2030:7d") for c in ("IND", "PAK")]


def test_sent_once_across_restarts_and_apps(world: dict[str, Any], settings) -> None:  # type: ignore[no-untyped-def]
    client = world["exchange"].client
    now = t(3, 2, 12)
    assert len(run(client, now)) == 2
    assert run(client, now) == []
    # A second application on the same database (a restart, or another worker) sends nothing again.
    with TestClient(create_app(settings)) as second:
        assert run(second, now) == []
        assert run(second, t(3, 25)) == [("declaration-due", c, "2030:7d") for c in ("IND", "PAK")]
    assert run(client, t(3, 25)) == []
    assert len(reminder_events(client)) == 4
    for session in session_scope(client.app.state.sessionmaker, read_only=True):  # type: ignore[attr-defined]
        assert (
            session.scalar(select(ReportReminder).where(ReportReminder.key == "2030:7d").limit(1)) is not None
        )


def test_concurrent_checks_send_each_reminder_once(world: dict[str, Any], settings) -> None:  # type: ignore[no-untyped-def]
    client = world["exchange"].client
    now = t(3, 2, 12)
    with TestClient(create_app(settings)) as second:
        factories = [client.app.state.sessionmaker, second.app.state.sessionmaker]  # type: ignore[attr-defined]
        barrier = threading.Barrier(len(factories) * 2)
        results: list[list[reminders.Reminder]] = []
        errors: list[BaseException] = []

        def worker(factory: Any) -> None:
            try:
                barrier.wait(timeout=30)
                results.append(lifecycle.run_once(factory, now))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(f,)) for f in factories * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    assert sorted((r.participant, r.key) for sent in results for r in sent) == [
        ("IND", "2030:30d"),
        ("PAK", "2030:30d"),
    ]
    assert len(reminder_events(client)) == 2


def test_overdue_post_launch_report_goes_to_the_issuer_once_per_closed_window(world: dict[str, Any]) -> None:
    client, ind = world["exchange"].client, world["IND"]
    set_rules(world["exchange"], declaration_deadline=None)  # keep this test to the post-launch kind
    first = accept(client, ind, pre_launch("IND", start=t(5, 10), days=2))
    assert run(client, t(5, 11)) == []  # the window is open
    assert run(client, t(5, 12, 1)) == [("post-launch-overdue", "IND", first)]
    assert run(client, t(5, 13)) == []
    # An update reopens the window; when it closes unreported, that is a new reminder.
    update = accept(
        client, ind, pre_launch("IND", type_="pre-launch-update", references=first, start=t(5, 20), days=1)
    )
    assert run(client, t(5, 22)) == [("post-launch-overdue", "IND", update)]
    # A window closed long ago is not reminded at all (a first start on an old database).
    stale = accept(client, ind, pre_launch("IND", start=t(6, 1), days=1))
    assert run(client, t(6, 2) + reminders.OVERDUE_LOOKBACK + timedelta(days=1)) == []
    event = reminder_events(client)[-1]
    assert (event.addressee, event.subject) == ("IND", first)
    assert event.data is not None and event.data["document"] == update and event.data["chain"] == first
    assert stale not in str([e.data for e in reminder_events(client)])


def test_reminders_reach_only_their_addressee_in_the_feed(world: dict[str, Any]) -> None:
    client = world["exchange"].client
    run(client, t(3, 2, 12))
    ind_events = feed(client, world["IND"])
    assert [(e["subject"], e["data"]["days_left"]) for e in ind_events] == [("declaration/hcoc/2030", 30)]
    assert ind_events[0]["data"]["kind"] == "declaration-due"
    assert len(feed(client, world["PAK"])) == 1
    for other in ("FRA", "OBS"):
        assert feed(client, world[other]) == []
    assert feed(client, world["exchange"].operator) == []
