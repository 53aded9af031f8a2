"""Webhook subscriptions and deliveries (CONTRACT §5, Standard Webhooks) against a real local receiver."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks
from lnx_client.core.webhooks import sign, verify

from app.db import make_engine, make_sessionmaker, session_scope
from app.feed.models import Subscription
from tests.documents.builders import pre_launch, submit
from tests.documents.support import assert_problem
from tests.feed.conftest import TESTDATA, Receiver, World

NOW = datetime.now(UTC)


def accept(client: Any, actor: Any, payload: dict[str, Any] | None = None) -> str:
    payload = payload or pre_launch(actor.code)
    response = submit(client, actor, payload)
    assert response.status_code == 201, response.text
    return payload["id"]


def subscribe(client: Any, actor: Any, url: str, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/subscriptions", json={"url": url, **body}, headers=actor.headers)
    assert response.status_code == 201, response.text
    return response.json()


def deliveries(client: Any, actor: Any, sub_id: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/v1/subscriptions/{sub_id}/deliveries", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["deliveries"]


def wait_until(check, timeout: float = 15.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def standard_verify(secret: str, received: Any) -> Any:
    return standardwebhooks.Webhook(secret).verify(received.body.decode(), received.headers)


def test_the_shared_vector_signs_identically_here_and_in_the_reference_library() -> None:
    vector = json.loads((TESTDATA / "standard_webhooks_vector.json").read_text(encoding="utf-8"))
    ours = sign(vector["secret"], vector["webhook_id"], vector["webhook_timestamp"], vector["body"])
    assert ours == vector["webhook_signature"]
    reference = standardwebhooks.Webhook(vector["secret"]).sign(
        vector["webhook_id"], datetime.fromtimestamp(vector["webhook_timestamp"], UTC), vector["body"]
    )
    assert reference == vector["webhook_signature"]
    headers = {
        "webhook-id": vector["webhook_id"],
        "webhook-timestamp": str(vector["webhook_timestamp"]),
        "webhook-signature": vector["webhook_signature"],
    }
    verify(vector["secret"], headers, vector["body"], now=vector["webhook_timestamp"])


def test_a_delivery_is_a_signed_cloudevent(world: World, receiver: Receiver) -> None:
    sub = subscribe(world.client, world.pak, receiver.url + "/pak", description="ops desk")
    assert sub["secret"].startswith("whsec_") and sub["status"] == "active"
    doc = accept(world.client, world.ind)
    [received] = receiver.count(1)
    assert received.path == "/pak"
    assert received.headers["content-type"].startswith("application/cloudevents+json")
    standard_verify(sub["secret"], received)  # the reference library
    verify(sub["secret"], received.headers, received.body)  # our client library
    event = received.json
    assert event["specversion"] == "1.0" and event["subject"] == doc
    assert event["type"] == "org.lnx.document.pre-launch.v1" and event["data"]["access"] == "full"
    [delivery] = wait_until(
        lambda: [d for d in deliveries(world.client, world.pak, sub["id"]) if d["status"] == "delivered"]
    )
    assert delivery["webhook_id"] == received.headers["webhook-id"]
    assert delivery["event_id"] == event["id"]
    assert (
        delivery["attempts"] == 1
        and delivery["last_status_code"] == 200
        and delivery["next_attempt_at"] is None
    )
    # A tampered body does not verify.
    received.body = received.body.replace(doc.encode(), b"IND-2026-9999")
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standard_verify(sub["secret"], received)


def test_subscriptions_are_private_and_the_secret_is_shown_once(world: World, receiver: Receiver) -> None:
    client = world.client
    sub = subscribe(client, world.pak, receiver.url, types=["pre-launch"], regimes=["hcoc"])
    assert sub["types"] == ["org.lnx.document.pre-launch.v1"]
    got = client.get(f"/v1/subscriptions/{sub['id']}", headers=world.pak.headers).json()
    assert "secret" not in got and got["regimes"] == ["hcoc"]
    listed = client.get("/v1/subscriptions", headers=world.pak.headers).json()["subscriptions"]
    assert [s["id"] for s in listed] == [sub["id"]] and "secret" not in listed[0]
    assert client.get("/v1/subscriptions", headers=world.fra.headers).json() == {"subscriptions": []}
    for method, path in [
        ("GET", f"/v1/subscriptions/{sub['id']}"),
        ("PATCH", f"/v1/subscriptions/{sub['id']}"),
        ("DELETE", f"/v1/subscriptions/{sub['id']}"),
        ("GET", f"/v1/subscriptions/{sub['id']}/deliveries"),
        ("POST", f"/v1/subscriptions/{sub['id']}/rotate-secret"),
    ]:
        kwargs = {"json": {}} if method == "PATCH" else {}
        response = client.request(method, path, headers=world.fra.headers, **kwargs)
        assert_problem(response, 404, "subscription-not-found")
    patched = client.patch(
        f"/v1/subscriptions/{sub['id']}",
        json={"issuers": ["IND"], "description": "x"},
        headers=world.pak.headers,
    )
    assert patched.status_code == 200 and patched.json()["issuers"] == ["IND"]
    assert_problem(
        client.post(
            "/v1/subscriptions", json={"url": receiver.url, "types": ["rumour"]}, headers=world.pak.headers
        ),
        422,
        "unknown-event-type",
    )
    assert_problem(
        client.post(
            "/v1/subscriptions", json={"url": receiver.url, "secret": "mine"}, headers=world.pak.headers
        ),
        422,
        "validation-failed",
    )
    assert client.delete(f"/v1/subscriptions/{sub['id']}", headers=world.pak.headers).status_code == 204
    assert_problem(
        client.get(f"/v1/subscriptions/{sub['id']}", headers=world.pak.headers), 404, "subscription-not-found"
    )


def test_filters_select_what_is_delivered(world: World, receiver: Receiver) -> None:
    subscribe(world.client, world.pak, receiver.url + "/fra-only", issuers=["FRA"])
    accept(world.client, world.ind)
    fra_doc = accept(world.client, world.fra)
    [received] = receiver.count(1)
    time.sleep(0.5)
    assert len(receiver.requests) == 1 and received.json["subject"] == fra_doc


def test_a_500_is_retried_then_delivered(world: World, receiver: Receiver) -> None:
    calls: dict[str, int] = {}

    def respond(request: Any) -> tuple[int, dict[str, str], float]:
        key = request.headers["webhook-id"]
        calls[key] = calls.get(key, 0) + 1
        return (500 if calls[key] == 1 else 200), {}, 0.0

    receiver.respond = respond
    sub = subscribe(world.client, world.pak, receiver.url)
    accept(world.client, world.ind)
    first, second = receiver.count(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert 0.15 < second.at - first.at < 3.0  # webhook_schedule_s[0] = 0.2 s, ±10 %
    for received in (first, second):
        standard_verify(sub["secret"], received)
    [delivery] = wait_until(
        lambda: [d for d in deliveries(world.client, world.pak, sub["id"]) if d["status"] == "delivered"]
    )
    assert delivery["attempts"] == 2
    detail = world.client.get(
        f"/v1/subscriptions/{sub['id']}/deliveries/{delivery['id']}", headers=world.pak.headers
    ).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 200]
    assert detail["attempt_log"][0]["error"] == "HTTP 500"
    assert (
        world.client.get(f"/v1/subscriptions/{sub['id']}", headers=world.pak.headers).json()["failing_since"]
        is None
    )


def test_retry_after_is_honoured(world: World, receiver: Receiver) -> None:
    replies = iter([(429, {"Retry-After": "2"}, 0.0), (503, {"Retry-After": "1"}, 0.0)])
    receiver.respond = lambda _r: next(replies, (200, {}, 0.0))
    sub = subscribe(world.client, world.pak, receiver.url)
    accept(world.client, world.ind)
    first, second, third = receiver.count(3, timeout=20)
    assert 1.9 < second.at - first.at < 5  # not the 0.2 s of the schedule
    assert 0.9 < third.at - second.at < 4
    [delivery] = wait_until(
        lambda: [d for d in deliveries(world.client, world.pak, sub["id"]) if d["status"] == "delivered"]
    )
    assert delivery["attempts"] == 3


def test_410_gone_disables_the_subscription(world: World, receiver: Receiver) -> None:
    receiver.respond = lambda _r: (410, {}, 0.0)
    sub = subscribe(world.client, world.pak, receiver.url)
    accept(world.client, world.ind)
    receiver.count(1)
    got = wait_until(
        lambda: (
            (r := world.client.get(f"/v1/subscriptions/{sub['id']}", headers=world.pak.headers).json())[
                "status"
            ]
            == "disabled"
            and r
        )
    )
    assert "410" in got["disabled_reason"]
    [delivery] = deliveries(world.client, world.pak, sub["id"])
    assert delivery["status"] == "failed" and delivery["last_status_code"] == 410
    # Nothing is sent while disabled; re-enabling resumes from where the fan-out stopped.
    later = accept(world.client, world.ind)
    time.sleep(0.6)
    assert len(receiver.requests) == 1
    receiver.respond = lambda _r: (200, {}, 0.0)
    response = world.client.patch(
        f"/v1/subscriptions/{sub['id']}", json={"enabled": True}, headers=world.pak.headers
    )
    assert response.status_code == 200 and response.json()["status"] == "active"
    assert receiver.count(2)[1].json["subject"] == later


def test_exhausted_retries_fail_and_can_be_redelivered(world: World, receiver: Receiver) -> None:
    receiver.respond = lambda _r: (500, {}, 0.0)
    sub = subscribe(world.client, world.pak, receiver.url)
    accept(world.client, world.ind)
    receiver.count(3)  # the first attempt and the two of webhook_schedule_s
    [delivery] = wait_until(
        lambda: [d for d in deliveries(world.client, world.pak, sub["id"]) if d["status"] == "failed"]
    )
    assert delivery["attempts"] == 3 and delivery["last_error"] == "HTTP 500"
    assert deliveries(world.client, world.pak, sub["id"], status="failed") == [delivery]
    assert deliveries(world.client, world.pak, sub["id"], status="delivered") == []
    failing = world.client.get(f"/v1/subscriptions/{sub['id']}", headers=world.pak.headers).json()
    assert failing["status"] == "active" and failing["failing_since"] is not None

    receiver.respond = lambda _r: (204, {}, 0.0)
    response = world.client.post(
        f"/v1/subscriptions/{sub['id']}/deliveries/{delivery['id']}/redeliver", headers=world.pak.headers
    )
    assert response.status_code == 202 and response.json()["status"] == "pending"
    fourth = receiver.count(4)[3]
    assert fourth.headers["webhook-id"] == delivery["webhook_id"]
    [done] = wait_until(
        lambda: [d for d in deliveries(world.client, world.pak, sub["id"]) if d["status"] == "delivered"]
    )
    assert done["attempts"] == 4 and done["last_status_code"] == 204
    assert_problem(
        world.client.post(
            f"/v1/subscriptions/{sub['id']}/deliveries/999999/redeliver", headers=world.pak.headers
        ),
        404,
        "delivery-not-found",
    )


def test_deliveries_are_paginated_newest_first(world: World, receiver: Receiver) -> None:
    sub = subscribe(world.client, world.pak, receiver.url)
    ids = [accept(world.client, world.ind) for _ in range(3)]
    receiver.count(3)
    first = world.client.get(
        f"/v1/subscriptions/{sub['id']}/deliveries", params={"page_size": 2}, headers=world.pak.headers
    ).json()
    assert len(first["deliveries"]) == 2 and first["next_page_token"]
    rest = deliveries(world.client, world.pak, sub["id"], page_size=2, page_token=first["next_page_token"])
    events = [d["event_id"] for d in first["deliveries"] + rest]
    assert events == sorted(events, key=int, reverse=True) and len(events) == len(ids)
    assert_problem(
        world.client.get(
            f"/v1/subscriptions/{sub['id']}/deliveries", params={"status": "lost"}, headers=world.pak.headers
        ),
        400,
        "invalid-status",
    )


def test_a_rotated_secret_signs_beside_the_old_one(world: World, receiver: Receiver) -> None:
    sub = subscribe(world.client, world.pak, receiver.url)
    rotated = world.client.post(f"/v1/subscriptions/{sub['id']}/rotate-secret", headers=world.pak.headers)
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != sub["secret"] and new_secret.startswith("whsec_")
    accept(world.client, world.ind)
    [received] = receiver.count(1)
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    standard_verify(new_secret, received)
    standard_verify(sub["secret"], received)


@pytest.mark.feed_settings(webhook_allow_private=False)
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost:8080/hook",
        "http://0.0.0.0/hook",
        "ftp://example.org/hook",
        "file:///etc/passwd",
        "http://user:pw@example.org/hook",
        "http:///nohost",
    ],
)
def test_unsafe_urls_are_refused(world: World, url: str) -> None:
    response = world.client.post("/v1/subscriptions", json={"url": url}, headers=world.pak.headers)
    assert_problem(response, 422, "unsafe-webhook-url", "/url")


@pytest.mark.feed_settings(webhook_allow_private=False)
def test_the_address_is_checked_again_at_delivery_time(world: World, receiver: Receiver, settings) -> None:  # type: ignore[no-untyped-def]
    public = world.client.post(
        "/v1/subscriptions", json={"url": "http://8.8.8.8/hook"}, headers=world.pak.headers
    )
    assert public.status_code == 201
    assert_problem(
        world.client.patch(
            f"/v1/subscriptions/{public.json()['id']}", json={"url": receiver.url}, headers=world.pak.headers
        ),
        422,
        "unsafe-webhook-url",
    )
    assert (
        world.client.delete(f"/v1/subscriptions/{public.json()['id']}", headers=world.pak.headers).status_code
        == 204
    )
    # A subscription whose host has since come to resolve to a private address (stored directly).
    engine = make_engine(settings.resolved_database_url, pool_size=1)
    try:
        for session in session_scope(make_sessionmaker(engine)):
            session.add(
                Subscription(
                    id="sub_rebound",
                    owner="PAK",
                    url=receiver.url,
                    types=[],
                    issuers=[],
                    regimes=[],
                    secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                    status="active",
                    last_seq=0,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    finally:
        engine.dispose()
    accept(world.client, world.ind)
    [delivery] = wait_until(
        lambda: [d for d in deliveries(world.client, world.pak, "sub_rebound") if d["attempts"] >= 1]
    )
    assert "not a public address" in delivery["last_error"]
    assert delivery["last_status_code"] is None
    assert receiver.requests == []
