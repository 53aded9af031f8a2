"""The delivery worker's scheduling: the per-subscription cap, pruning of old rows, and noticing
subscriptions changed by another process. Real receivers, real databases, through HTTP."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.feed.conftest import Receiver, World
from tests.feed.test_webhooks import accept, deliveries, subscribe, wait_until
from tests.fixtures import execute_sql


@pytest.mark.feed_settings(webhook_subscription_concurrency=2, webhook_timeout_s=10.0)
def test_a_slow_endpoint_gets_no_more_than_its_share_of_the_slots(world: World, receiver: Receiver) -> None:
    lock = threading.Lock()
    in_flight = {"/slow": 0, "/fast": 0}
    most = {"/slow": 0, "/fast": 0}
    release_slow = threading.Event()

    def respond(request: Any) -> tuple[int, dict[str, str], float]:
        with lock:
            in_flight[request.path] += 1
            most[request.path] = max(most[request.path], in_flight[request.path])
        try:
            if request.path == "/slow":
                release_slow.wait(20)  # held until the fast endpoint has everything
        finally:
            with lock:
                in_flight[request.path] -= 1
        return 200, {}, 0.0

    receiver.respond = respond
    slow = subscribe(world.client, world.pak, receiver.url + "/slow")
    fast = subscribe(world.client, world.fra, receiver.url + "/fast")
    documents = [accept(world.client, world.ind) for _ in range(6)]
    # Every event reaches the fast endpoint while the slow one holds its two slots.
    got = receiver.wait_for(lambda rs: len([r for r in rs if r.path == "/fast"]) >= len(documents))
    assert sorted(r.json["subject"] for r in got if r.path == "/fast") == sorted(documents)
    assert len([r for r in got if r.path == "/slow"]) == 2  # the cap: 2 in flight, the rest wait
    release_slow.set()
    received = receiver.wait_for(lambda rs: len([r for r in rs if r.path == "/slow"]) >= len(documents))
    assert most["/slow"] == 2
    assert sorted({r.json["subject"] for r in received if r.path == "/slow"}) == sorted(documents)
    for sub, actor in ((slow, world.pak), (fast, world.fra)):
        wait_until(
            lambda sub=sub, actor=actor: all(
                d["status"] == "delivered" for d in deliveries(world.client, actor, sub["id"])
            )
        )


@pytest.mark.feed_settings(webhook_retention_days=1e-9, webhook_schedule_s=[3600])
def test_finished_deliveries_are_pruned_after_the_retention(
    world: World, receiver: Receiver, settings: Settings
) -> None:
    receiver.respond = lambda r: (500, {}, 0.0) if r.path == "/failing" else (204, {}, 0.0)
    ok = subscribe(world.client, world.pak, receiver.url + "/ok")
    failing = subscribe(world.client, world.fra, receiver.url + "/failing")
    accept(world.client, world.ind)
    receiver.count(2)
    [done] = wait_until(
        lambda: [d for d in deliveries(world.client, world.pak, ok["id"]) if d["status"] == "delivered"]
    )
    [waiting] = wait_until(
        lambda: [d for d in deliveries(world.client, world.fra, failing["id"]) if d["attempts"] == 1]
    )
    assert waiting["status"] == "pending"  # retried in an hour: not finished, never pruned
    # A worker prunes when it starts (then every 10 minutes): start another server process's app.
    with TestClient(create_app(settings)) as other:
        listed = wait_until(
            lambda: (
                (
                    r := other.get(
                        f"/v1/subscriptions/{ok['id']}/deliveries", headers=world.pak.headers
                    ).json()
                )["deliveries"]
                == []
                and r
            )
        )
        assert listed["deliveries"] == []
        r = other.get(f"/v1/subscriptions/{ok['id']}/deliveries/{done['id']}", headers=world.pak.headers)
        assert r.status_code == 404
        kept = other.get(
            f"/v1/subscriptions/{failing['id']}/deliveries/{waiting['id']}", headers=world.fra.headers
        ).json()
        assert kept["status"] == "pending" and [a["status_code"] for a in kept["attempt_log"]] == [500]
    # The subscription itself, and new deliveries, are untouched.
    accept(world.client, world.ind)
    receiver.wait_for(lambda rs: len([r for r in rs if r.path == "/ok"]) >= 2)


def test_a_subscription_enabled_by_another_process_is_noticed(
    world: World, receiver: Receiver, settings: Settings
) -> None:
    sub = subscribe(world.client, world.pak, receiver.url)
    execute_sql(settings, "UPDATE feed_subscriptions SET status = 'disabled' WHERE id = :id", id=sub["id"])
    time.sleep(1.5)  # the worker's idle recheck sees no active subscription
    document = accept(world.client, world.ind)
    assert receiver.requests == []
    execute_sql(
        settings,
        "UPDATE feed_subscriptions SET status = 'active', updated_at = :now WHERE id = :id",
        id=sub["id"],
        now=datetime.now(UTC),
    )
    [received] = receiver.count(1, timeout=10)
    assert received.json["subject"] == document
