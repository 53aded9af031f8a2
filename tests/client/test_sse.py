"""Server-Sent Events parsing and the stream's reconnection, with httpx.MockTransport."""

from __future__ import annotations

import json

import httpx
import pytest
from lnx_client import Client, LnxConnectionError, RetryPolicy
from lnx_client._sse import SseParser


def event(seq: int) -> dict[str, object]:
    return {
        "specversion": "1.0",
        "id": str(seq),
        "type": "org.lnx.document.pre-launch.v1",
        "subject": f"IND-2026-{seq:04d}",
    }


def test_parser_follows_the_spec() -> None:
    parser = SseParser()
    lines = ["retry: 1000", ": keepalive", "", "id: 7", 'data: {"a":', "data: 1}", "", "data: plain", ""]
    out = [parsed for line in lines if (parsed := parser.feed(line)) is not None]
    assert [(e.id, e.data) for e in out] == [("7", '{"a":\n1}'), ("7", "plain")]  # the id persists
    assert parser.headers()["Last-Event-ID"] == "7"


def test_stream_resumes_with_last_event_id_and_gives_up_on_a_silent_server() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        last = request.headers.get("last-event-id")
        seen.append(last)
        body = ""
        if last is None:
            body = "".join(f"id: {n}\ndata: {json.dumps(event(n))}\n\n" for n in (1, 2))
        return httpx.Response(200, text=": hello\n\n" + body, headers={"content-type": "text/event-stream"})

    policy = RetryPolicy(max_attempts=3, backoff=0.0)
    with Client("http://lnx.test", "lnx_t", transport=httpx.MockTransport(handler), retry=policy) as client:
        received = []
        with pytest.raises(LnxConnectionError, match="without an event"):
            for e in client.stream():
                received.append(e.id)
    assert received == ["1", "2"]
    assert seen == [None, "2", "2"]  # reconnected after the last event seen; 3 attempts, then gave up
