"""A bilateral ``in-pk-2005`` notification from IND to PAK reaches no third state by any channel."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.documents.builders import pre_launch, submit
from tests.feed.conftest import Receiver, World, poll_all, read_sse, sse_events


def accept(client: Any, actor: Any, payload: dict[str, Any]) -> str:
    response = submit(client, actor, payload)
    assert response.status_code == 201, response.text
    return payload["id"]


def open_stream(client: Any, actor: Any, out: dict[str, Any], events: int) -> threading.Thread:
    """Read ``events`` data events from ``/v1/stream`` in a thread, keeping the raw blocks."""

    def run() -> None:
        with client.stream(
            "GET", "/v1/stream", params={"after": "latest"}, headers=actor.headers, timeout=15
        ) as response:
            out["ready"] = True
            out["blocks"] = read_sse(response, lambda bs: sum("data" in b for b in bs) >= events)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_bilateral_notification_never_reaches_a_third_state(live_world: World, receiver: Receiver) -> None:
    client = live_world.client
    ind, pak, fra = live_world.ind, live_world.pak, live_world.fra
    fra_sub = client.post(
        "/v1/subscriptions", json={"url": receiver.url + "/fra"}, headers=fra.headers
    ).json()
    client.post("/v1/subscriptions", json={"url": receiver.url + "/pak"}, headers=pak.headers)
    fra_stream: dict[str, Any] = {}
    pak_stream: dict[str, Any] = {}
    threads = [open_stream(client, fra, fra_stream, 1), open_stream(client, pak, pak_stream, 2)]
    deadline = time.monotonic() + 10
    while not (fra_stream.get("ready") and pak_stream.get("ready")) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)

    secret = accept(
        client,
        ind,
        pre_launch(
            "IND",
            regime="in-pk-2005",
            recipients=["PAK"],
            generic_class="SRBM",
            start=datetime.now(UTC) + timedelta(days=4),
        ),
    )
    public = accept(client, ind, pre_launch("IND"))
    for thread in threads:
        thread.join(timeout=20)

    # PAK, the addressee, gets both on every channel: the channels work.
    assert [e["subject"] for e in sse_events(pak_stream["blocks"])] == [secret, public]
    pak_hooks = receiver.wait_for(lambda rs: len([r for r in rs if r.path == "/pak"]) >= 2)
    # Webhooks are at least once and not ordered across deliveries: compare as sets.
    assert {r.json["subject"] for r in pak_hooks if r.path == "/pak"} == {secret, public}
    assert [e["subject"] for e in poll_all(client, pak)[0]] == [secret, public]

    # FRA: only the public one, by poll, by stream and by webhook; the id never appears.
    time.sleep(0.5)
    fra_events = sse_events(fra_stream["blocks"])
    assert [e["subject"] for e in fra_events] == [public]
    assert secret not in repr(fra_stream["blocks"])
    fra_hooks = [r for r in receiver.requests if r.path == "/fra"]
    assert {r.json["subject"] for r in fra_hooks} == {public}
    assert all(secret.encode() not in r.body for r in fra_hooks)
    polled, _ = poll_all(client, fra)
    assert [e["subject"] for e in polled] == [public]
    assert secret not in repr(polled)
    listing = client.get(f"/v1/subscriptions/{fra_sub['id']}/deliveries", headers=fra.headers).json()
    assert [d["event_id"] for d in listing["deliveries"]] == [fra_events[0]["id"]]
    assert client.get(f"/v1/documents/{secret}", headers=fra.headers).status_code == 404
