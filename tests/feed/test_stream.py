"""Server-Sent Events (CONTRACT §5) through a real uvicorn server: ids, resume, keepalive, back-pressure."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.documents.builders import follow_up, pre_launch, submit, ts
from tests.documents.support import assert_problem
from tests.feed.conftest import LiveServer, World, read_sse, sse_events

NOW = datetime.now(UTC)


def accept(client: Any, actor: Any, payload: dict[str, Any]) -> str:
    response = submit(client, actor, payload)
    assert response.status_code == 201, response.text
    return payload["id"]


def stream(
    client: httpx.Client,
    actor: Any,
    *,
    timeout: float = 10.0,
    headers: dict[str, str] | None = None,
    **params: Any,
):  # type: ignore[no-untyped-def]
    return client.stream(
        "GET",
        "/v1/stream",
        params=params,
        headers={**actor.headers, "accept": "text/event-stream", **(headers or {})},
        timeout=timeout,
    )


def data_count(n: int):  # type: ignore[no-untyped-def]
    return lambda blocks: sum("data" in b for b in blocks) >= n


def test_stream_sends_ids_and_resumes_with_last_event_id(live_world: World) -> None:
    client = live_world.client
    ids = [accept(client, live_world.ind, pre_launch("IND")) for _ in range(3)]
    with stream(client, live_world.pak, after="0") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        events = sse_events(read_sse(response, data_count(3)))
    assert [e["subject"] for e in events] == ids
    assert all(e["specversion"] == "1.0" and e["type"] == "org.lnx.document.pre-launch.v1" for e in events)

    more = [accept(client, live_world.ind, pre_launch("IND")) for _ in range(2)]
    # Resume after the second event: Last-Event-ID wins over ?after=.
    with stream(client, live_world.pak, after="0", headers={"Last-Event-ID": events[1]["id"]}) as response:
        resumed = sse_events(read_sse(response, data_count(3)))
    assert [e["subject"] for e in resumed] == [ids[2], *more]
    assert len({e["id"] for e in events[:2] + resumed}) == 5


def test_live_events_arrive_on_an_open_stream(live_world: World) -> None:
    client = live_world.client
    payloads = [pre_launch("IND") for _ in range(3)]

    def later() -> None:
        time.sleep(0.5)
        for payload in payloads:
            accept(client, live_world.ind, payload)

    thread = threading.Thread(target=later)
    with stream(client, live_world.pak, after="latest") as response:
        thread.start()
        events = sse_events(read_sse(response, data_count(3)))
    thread.join(timeout=10)
    assert [e["subject"] for e in events] == [p["id"] for p in payloads]


def test_keepalive_comments_on_an_idle_stream(live_world: World) -> None:
    """settings.sse_keepalive_s is 0.5 s in these tests (15 s by default, as CONTRACT §5 asks)."""
    with stream(live_world.client, live_world.pak, after="latest") as response:
        started = time.monotonic()
        blocks = read_sse(
            response, lambda bs: sum(b.get("comment") == "keepalive" for b in bs) >= 2, timeout=5
        )
        elapsed = time.monotonic() - started
    assert elapsed < 2.5
    assert not [b for b in blocks if "data" in b]


def test_stream_filters(live_world: World) -> None:
    client = live_world.client
    fra = accept(client, live_world.fra, pre_launch("FRA"))
    accept(client, live_world.ind, pre_launch("IND"))
    cancel = accept(client, live_world.fra, follow_up("FRA", "cancellation", fra))
    with stream(client, live_world.pak, after="0", type="cancellation") as response:
        events = sse_events(read_sse(response, data_count(1)))
    assert [e["subject"] for e in events] == [cancel]
    with stream(client, live_world.pak, after="0", issuer="FRA") as response:
        events = sse_events(read_sse(response, data_count(2)))
    assert [e["subject"] for e in events] == [fra, cancel]


def test_bad_stream_parameters_are_problems(live_world: World) -> None:
    client = live_world.client
    response = client.get("/v1/stream", headers={**live_world.pak.headers, "Last-Event-ID": "x1"})
    assert_problem(response, 400, "invalid-cursor")
    response = client.get("/v1/stream", params={"type": "rumour"}, headers=live_world.pak.headers)
    assert_problem(response, 422, "unknown-event-type")
    assert_problem(client.get("/v1/stream"), 401, "missing-token")


def _declaration(issuer: str, year: int) -> dict[str, Any]:
    """A large but valid document (~45 KB of text), so a few of them fill the socket buffers."""
    return {
        "type": "annual-declaration",
        "id": f"{issuer}-{year}-D{year}",
        "issuer": issuer,
        "issued_at": ts(datetime.now(UTC)),
        "regime": "hcoc",
        "recipients": ["*"],
        "year": year,
        "ballistic_missile_policy": "policy text " * 1600,
        "slv_policy": "space launch policy " * 950,
        "launches": [{"category": "space-launch-vehicle", "generic_class": "SLV", "count": 1}],
        "launch_sites": [],
        "remarks": "r" * 3900,
    }


def _raw_stream(live: LiveServer, token: str, last_event_id: str) -> socket.socket:
    """A client with a tiny receive buffer that does not read: the server's sends back up."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", live.port))
    request = (
        f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\nAuthorization: Bearer {token}\r\n"
        f"Accept: text/event-stream\r\nLast-Event-ID: {last_event_id}\r\n\r\n"
    )
    sock.sendall(request.encode())
    return sock


def _read_to_end(sock: socket.socket, timeout: float = 30.0) -> bytes:
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(1 << 16)
        except TimeoutError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        if b"\r\n0\r\n\r\n" in chunks[-1][-16:] or b"".join(chunks[-2:]).endswith(b"0\r\n\r\n"):
            break
    return b"".join(chunks)


def _dechunk(raw: bytes) -> bytes:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0], head
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)


@pytest.mark.feed_settings(sse_buffer_events=2)
def test_a_slow_client_is_disconnected_not_buffered(live: LiveServer, live_world: World) -> None:
    client = live_world.client
    # Accepted sockets inherit the listener's buffer size: keep the kernel from absorbing megabytes
    # (loopback send buffers autotune up to 4 MiB) so the back-pressure reaches the application.
    live.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    sock = _raw_stream(live, live_world.pak.token, "0")
    try:
        time.sleep(0.3)
        ids = [accept(client, live_world.fra, _declaration("FRA", 2000 + i)) for i in range(14)]
        time.sleep(0.5)
        raw = _read_to_end(sock)
    finally:
        sock.close()
    text = _dechunk(raw).decode()
    assert "too far behind; reconnect with Last-Event-ID" in text
    received = [json.loads(line[6:]) for line in text.split("\n") if line.startswith("data: ")]
    assert 0 < len(received) < len(ids)
    assert [e["subject"] for e in received] == ids[: len(received)]
    # The client resumes from its last event: the rest, no loss, no duplicate.
    with stream(client, live_world.pak, headers={"Last-Event-ID": received[-1]["id"]}) as response:
        rest = sse_events(read_sse(response, data_count(len(ids) - len(received))))
    assert [e["subject"] for e in received + rest] == ids


def test_a_revoked_token_ends_its_open_stream(live, live_world: World) -> None:  # type: ignore[no-untyped-def]
    live.server.config.app.state.feed.token_recheck_s = 0.3
    client = live_world.client
    operator = live_world.exchange.operator.headers
    reader = client.post(
        "/v1/tokens", json={"participant": "PAK", "scopes": ["read"]}, headers=operator
    ).json()
    actor = type(live_world.pak)(code="PAK", role="state", token=reader["token"])
    revoked: list[int] = []

    def revoke_after_first_keepalive(blocks: list[dict[str, str]]) -> bool:
        if not revoked and blocks[-1].get("comment") == "keepalive":
            response = client.post(f"/v1/tokens/{reader['id']}/revoke", headers=operator)
            revoked.append(response.status_code)
        return False  # read until the server ends the stream

    with stream(client, actor, after="latest") as response:
        started = time.monotonic()
        blocks = read_sse(response, revoke_after_first_keepalive, timeout=8)
    assert revoked == [200]
    assert blocks[-1] == {"comment": "token no longer valid"}
    assert time.monotonic() - started < 5
