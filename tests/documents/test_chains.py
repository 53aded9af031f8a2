"""Notification chains over HTTP (CONTRACT §2, §4): updates supersede, a cancellation or a post-launch
report closes the chain, a window that has passed expires it; history and acknowledgements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.documents.builders import follow_up, pre_launch, sign, ts
from tests.documents.support import post_jws

SLV = {"category": "space-launch-vehicle", "generic_class": "SLV"}


def accept(world, actor, payload: dict) -> dict:  # type: ignore[no-untyped-def]
    response = post_jws(world.client, actor, sign(actor, payload))
    assert response.status_code == 201, response.text
    return payload


def document(world, doc_id: str, actor=None) -> dict:  # type: ignore[no-untyped-def]
    response = world.client.get(f"/v1/documents/{doc_id}", headers=(actor or world.ind).headers)
    assert response.status_code == 200, response.text
    return response.json()


def history_ids(world, doc_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    response = world.client.get(f"/v1/documents/{doc_id}/history", headers=world.ind.headers)
    assert response.status_code == 200, response.text
    return [d["id"] for d in response.json()["documents"]]


def test_updates_then_cancellation(world) -> None:
    original = accept(world, world.ind, pre_launch("IND"))
    assert document(world, original["id"])["status"] == "scheduled"

    first = accept(world, world.ind, pre_launch("IND", type_="pre-launch-update", references=original["id"]))
    assert document(world, original["id"])["status"] == "updated"
    later = datetime.now(UTC) + timedelta(days=20)
    second = accept(
        world, world.ind, pre_launch("IND", type_="pre-launch-update", references=first["id"], start=later)
    )
    assert document(world, first["id"])["status"] == "updated"

    cancellation = accept(world, world.ind, follow_up("IND", "cancellation", second["id"], reason="weather"))

    chain = [original["id"], first["id"], second["id"], cancellation["id"]]
    for doc_id in chain:
        shown = document(world, doc_id)
        assert shown["status"] == "cancelled"
        assert shown["history"] == chain
    assert history_ids(world, first["id"]) == chain
    assert document(world, second["id"])["payload"]["window"]["start"] == ts(later)


def test_history_entries_are_full_documents_in_log_order(world) -> None:
    original = accept(world, world.ind, pre_launch("IND"))
    update = accept(world, world.ind, pre_launch("IND", type_="pre-launch-update", references=original["id"]))

    response = world.client.get(f"/v1/documents/{update['id']}/history", headers=world.fra.headers)

    entries = response.json()["documents"]
    assert [e["type"] for e in entries] == ["pre-launch", "pre-launch-update"]
    assert entries[0]["log_index"] < entries[1]["log_index"]
    assert all(e["jws"] and e["payload"] for e in entries)


def test_post_launch_report_marks_the_chain_launched(world) -> None:
    original = accept(world, world.ind, pre_launch("IND", start=datetime.now(UTC) + timedelta(hours=1)))

    report = accept(
        world,
        world.ind,
        follow_up(
            "IND",
            "post-launch",
            original["id"],
            launched_at=ts(datetime.now(UTC)),
            outcome="nominal",
            vehicle=SLV,
        ),
    )

    assert document(world, original["id"])["status"] == "launched"
    assert document(world, report["id"])["history"] == [original["id"], report["id"]]
    listed = world.client.get("/v1/documents", params={"status": "launched"}, headers=world.ind.headers)
    assert {d["id"] for d in listed.json()["documents"]} == {original["id"], report["id"]}


def test_post_launch_report_of_an_unannounced_launch_stands_alone(world) -> None:
    report = follow_up(
        "IND", "post-launch", "unused", launched_at=ts(datetime.now(UTC)), outcome="failure", vehicle=SLV
    )
    del report["references"]

    accept(world, world.ind, report)

    shown = document(world, report["id"])
    assert shown["status"] == "recorded"
    assert shown["history"] == [report["id"]]


def test_window_in_the_past_expires_the_notification(world) -> None:
    start = datetime.now(UTC) - timedelta(days=3)
    stale = accept(world, world.ind, pre_launch("IND", start=start, days=1))
    current = accept(world, world.ind, pre_launch("IND"))

    assert document(world, stale["id"])["status"] == "expired"
    assert document(world, current["id"])["status"] == "scheduled"
    expired = world.client.get("/v1/documents", params={"status": "expired"}, headers=world.ind.headers)
    scheduled = world.client.get("/v1/documents", params={"status": "scheduled"}, headers=world.ind.headers)
    assert [d["id"] for d in expired.json()["documents"]] == [stale["id"]]
    assert [d["id"] for d in scheduled.json()["documents"]] == [current["id"]]


def test_post_launch_report_may_close_an_expired_window(world) -> None:
    # A late report is better than none: "expired" is derived from time, the chain is still open.
    start = datetime.now(UTC) - timedelta(days=3)
    original = accept(world, world.ind, pre_launch("IND", start=start, days=1))

    accept(
        world,
        world.ind,
        follow_up(
            "IND",
            "post-launch",
            original["id"],
            launched_at=ts(start + timedelta(hours=2)),
            outcome="nominal",
            vehicle=SLV,
        ),
    )

    assert document(world, original["id"])["status"] == "launched"


def test_cancellation_may_refer_to_any_version_of_an_open_chain(world) -> None:
    original = accept(world, world.ind, pre_launch("IND"))
    accept(world, world.ind, pre_launch("IND", type_="pre-launch-update", references=original["id"]))

    accept(world, world.ind, follow_up("IND", "cancellation", original["id"]))

    assert document(world, original["id"])["status"] == "cancelled"


def test_acknowledgements_are_listed_on_the_document(world) -> None:
    notification = accept(world, world.ind, pre_launch("IND"))
    pak_ack = accept(
        world, world.pak, follow_up("PAK", "acknowledgement", notification["id"], recipients=["IND"])
    )
    obs_ack = accept(
        world,
        world.observer,
        follow_up("ICAO_APAC", "acknowledgement", notification["id"], recipients=["IND"]),
    )

    shown = document(world, notification["id"])

    assert [(a["id"], a["issuer"]) for a in shown["acknowledgements"]] == [
        (pak_ack["id"], "PAK"),
        (obs_ack["id"], "ICAO_APAC"),
    ]
    assert all(a["integrated_time"] for a in shown["acknowledgements"])
    ack = document(world, pak_ack["id"], world.pak)
    assert ack["status"] == "recorded" and ack["payload"]["references"] == notification["id"]


def test_star_recipients_are_the_members_at_acceptance(world) -> None:
    notification = accept(world, world.ind, pre_launch("IND"))
    late = world.exchange.add("USA", regimes=("hcoc",))

    shown = document(world, notification["id"])

    assert shown["recipients"] == ["FRA", "ICAO_APAC", "PAK"]
    assert world.client.get(f"/v1/documents/{notification['id']}", headers=late.headers).status_code == 404
    later = accept(world, world.ind, pre_launch("IND"))
    assert document(world, later["id"], late)["recipients"] == ["FRA", "ICAO_APAC", "PAK", "USA"]
