"""Retries against a tiny real HTTP server on 127.0.0.1 that answers from a script (503, 429, then 200)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from lnx_client import AsyncClient, Client, LnxApiError, LnxConnectionError, RetryPolicy
from lnx_client._http import parse_retry_after

FAST = RetryPolicy(max_attempts=4, backoff=0.01, max_backoff=0.05)
RECEIPT = {
    "id": "IND-2026-0001",
    "type": "pre-launch",
    "issuer": "IND",
    "log_index": 0,
    "leaf_hash": "00" * 32,
    "integrated_time": "2026-03-01T06:00:00Z",
    "findings": [],
    "proof": "c2sp.org/tlog-proof@v1\nindex 0\n\n",
}


class Script:
    """The answers to give, in order (the last one repeats), and the requests seen."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], bytes]] = []
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def next(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.seen.append((method, path))
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def problem(status: int, retry_after: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "application/problem+json"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    body = {"type": "urn:lnx:problem:unavailable", "title": "Unavailable", "status": status, "detail": "busy"}
    return status, headers, json.dumps(body).encode()


def ok(body: object, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


@pytest.fixture
def scripted() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status, headers, body = script.next(self.command, self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()


def test_503_then_200_is_retried(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [problem(503, "0"), problem(503), ok([])]
    with Client(url, "lnx_t", retry=FAST) as client:
        assert client.list_regimes() == []
    assert len(script.seen) == 3


def test_submit_is_retried_on_503_because_it_is_idempotent(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [problem(503, "0"), ok(RECEIPT, 201)]
    with Client(url, "lnx_t", retry=FAST) as client:
        receipt = client.submit("a.b.c")
    assert receipt.created and receipt.id == "IND-2026-0001"
    assert script.seen == [("POST", "/v1/documents")] * 2


def test_non_idempotent_post_is_not_retried_on_503_but_is_on_429(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [problem(503, "0"), ok({})]
    with Client(url, "lnx_t", retry=FAST) as client, pytest.raises(LnxApiError) as info:
        client.issue_token("IND", ["read"])
    assert info.value.status == 503 and info.value.code == "unavailable"
    assert len(script.seen) == 1

    script.seen.clear()
    issued = {"id": "tok_1", "participant": "IND", "scopes": ["read"], "token": "lnx_x"}
    script.answers = [problem(429, "0"), ok(issued, 201)]
    with Client(url, "lnx_t", retry=FAST) as client:
        assert client.issue_token("IND", ["read"]).token == "lnx_x"
    assert len(script.seen) == 2


def test_retry_after_is_honoured(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [problem(429, "2"), ok([])]
    slept: list[float] = []
    with Client(url, "lnx_t", retry=FAST, sleep=slept.append) as client:
        client.list_regimes()
    assert slept == [2.0]


def test_gives_up_after_max_attempts_with_the_last_problem(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [problem(503)]
    slept: list[float] = []
    with Client(url, "lnx_t", retry=FAST, sleep=slept.append) as client, pytest.raises(LnxApiError) as info:
        client.list_regimes()
    assert info.value.status == 503
    assert len(script.seen) == FAST.max_attempts
    # exponential back-off with full jitter: each delay within its doubling cap
    assert all(0 <= d <= min(FAST.max_backoff, FAST.backoff * 2**i) for i, d in enumerate(slept))


def test_a_long_retry_after_is_not_waited_for(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [problem(503, "3600"), ok([])]
    with Client(url, "lnx_t", retry=FAST) as client, pytest.raises(LnxApiError):
        client.list_regimes()
    assert len(script.seen) == 1


def test_connection_errors_are_retried_then_raised() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port now
    slept: list[float] = []
    with Client(f"http://127.0.0.1:{port}", retry=FAST, sleep=slept.append) as client:
        with pytest.raises(LnxConnectionError, match="after 4 attempt"):
            client.log_checkpoint()
    assert len(slept) == 3


def test_async_client_retries_too(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [problem(503, "0"), problem(429, "0"), ok([])]

    async def main() -> list[object]:
        async with AsyncClient(url, "lnx_t", retry=FAST) as client:
            return await client.list_regimes()

    assert asyncio.run(main()) == []
    assert len(script.seen) == 3


def test_problem_documents_and_other_error_bodies() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/documents/IND-2026-0001":
            body = {
                "type": "urn:lnx:problem:document-not-found",
                "title": "Not found",
                "status": 404,
                "detail": "no document IND-2026-0001",
            }
            return httpx.Response(404, json=body, headers={"content-type": "application/problem+json"})
        return httpx.Response(502, text="<html>bad gateway</html>", headers={"content-type": "text/html"})

    with Client("http://lnx.test", transport=httpx.MockTransport(handler), retry=FAST) as client:
        with pytest.raises(LnxApiError) as info:
            client.get_document("IND-2026-0001")
        assert (info.value.status, info.value.code) == (404, "document-not-found")
        assert info.value.detail == "no document IND-2026-0001"
        with pytest.raises(LnxApiError) as info:
            client.log_key()
        assert info.value.status == 502 and "bad gateway" in info.value.detail


def test_parse_retry_after() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
