"""The feed across real processes: ``lnx worker`` killed with SIGKILL mid-delivery, and a long poll
on one server process woken by a document accepted by another (PostgreSQL LISTEN/NOTIFY)."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import standardwebhooks

from app.config import Settings
from tests.documents.builders import pre_launch, submit
from tests.feed.conftest import Receiver, World, build_world
from tests.feed.processes import free_port, process_env, start_server, start_worker, wait_ready
from tests.fixtures import Actor, Exchange

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def accept(client: Any, actor: Any) -> str:
    payload = pre_launch(actor.code)
    response = submit(client, actor, payload)
    assert response.status_code == 201, response.text
    return payload["id"]


def distinct_ids(requests: list[Any]) -> set[str]:
    return {r.headers["webhook-id"] for r in requests}


@pytest.mark.feed_settings(run_webhook_worker=False)
def test_kill_9_the_worker_mid_delivery_and_every_event_still_arrives(
    world: World, receiver: Receiver, settings: Settings, tmp_path: Path
) -> None:
    # The first three deliveries are answered; later ones hang until released, so deliveries are
    # certainly in flight (leased, unrecorded) when the worker is killed, however loaded the box.
    answered = threading.Semaphore(3)
    release = threading.Event()

    def respond(_request: Any) -> tuple[int, dict[str, str], float]:
        if not answered.acquire(blocking=False):
            release.wait(timeout=30)
        return 200, {}, 0.0

    receiver.respond = respond
    response = world.client.post("/v1/subscriptions", json={"url": receiver.url}, headers=world.pak.headers)
    secret, sub_id = response.json()["secret"], response.json()["id"]
    ids = [accept(world.client, world.ind) for _ in range(12)]

    def listing() -> list[dict[str, Any]]:
        response = world.client.get(
            f"/v1/subscriptions/{sub_id}/deliveries", params={"page_size": 100}, headers=world.pak.headers
        )
        return response.json()["deliveries"]

    env = process_env(settings, LNX_WEBHOOK_TIMEOUT_S="1", LNX_WEBHOOK_SCHEDULE_S="[0.2, 0.5, 1, 1, 1, 1]")

    first = start_worker(env, tmp_path / "worker1.log", "--concurrency", "3")
    try:
        receiver.count(6, timeout=60)  # three answered, three hanging
        first.kill9()
    finally:
        first.ensure_stopped()
        release.set()
    before = distinct_ids(receiver.requests)
    assert len(before) == 6

    second = start_worker(env, tmp_path / "worker2.log", "--concurrency", "3")
    try:
        deadline = time.monotonic() + 60
        while {d["status"] for d in listing()} != {"delivered"}:  # the leases of the killed worker run out
            assert time.monotonic() < deadline, listing()
            time.sleep(0.2)
        assert "webhook worker running" in second.output()
        assert second.terminate() == 0, second.output()  # SIGTERM: a graceful stop
    finally:
        second.ensure_stopped()
    assert "webhook worker stopped" in second.output()

    hook = standardwebhooks.Webhook(secret)
    subjects = {hook.verify(r.body.decode(), r.headers)["subject"] for r in receiver.requests}
    assert subjects == set(ids)
    assert len(listing()) == len(ids)
    # The three in flight when the worker died were sent again: at least once, never lost.
    assert len(receiver.requests) >= len(ids) + 3
    print(f"\nkill -9 with {len(before)} received (3 unanswered); {len(receiver.requests)} requests in all")


@pytest.mark.postgres_only
def test_a_long_poll_on_one_server_wakes_within_a_second_when_another_accepts(
    settings: Settings, operator_token: str, tmp_path: Path
) -> None:
    env = process_env(settings)
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    servers = []
    try:
        for i, (port, url) in enumerate(zip(ports, urls, strict=True)):
            servers.append(start_server(env, tmp_path / f"server{i}.log", port))
            wait_ready(servers[-1], url)  # one after the other: the first creates the log key
        with httpx.Client(base_url=urls[0], timeout=20) as a, httpx.Client(base_url=urls[1], timeout=20) as b:
            world = build_world(Exchange(client=a, operator=Actor("ICC", "operator", operator_token)))  # type: ignore[arg-type]
            cursor = b.get("/v1/feed", params={"after": "latest"}, headers=world.pak.headers).json()["next"]
            latencies = []
            for _ in range(5):
                result: dict[str, Any] = {}

                def hold(after: str = cursor, out: dict[str, Any] = result) -> None:
                    response = b.get(
                        "/v1/feed", params={"after": after, "wait": 10}, headers=world.pak.headers
                    )
                    out["at"] = time.monotonic()
                    out["page"] = response.json()

                thread = threading.Thread(target=hold)
                thread.start()
                time.sleep(0.4)  # the poll is held on server B
                doc = accept(a, world.ind)
                answered = time.monotonic()
                thread.join(timeout=15)
                assert [e["subject"] for e in result["page"]["events"]] == [doc]
                latencies.append(result["at"] - answered)
                cursor = result["page"]["next"]
        print(
            f"\nlong poll on server B after a 201 from server A: "
            f"median {statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
        )
        assert max(latencies) < 1.0, latencies
    finally:
        for server in servers:
            server.ensure_stopped()
