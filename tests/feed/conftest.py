"""Fixtures of the feed tests: fast settings, a real webhook receiver, a real uvicorn server.

Nothing is mocked: the receiver is an HTTP server on 127.0.0.1 recording what it is sent, and
streaming tests talk to the app through a real uvicorn server (in a thread of the test process)
so that sockets, back-pressure and keepalives are the real ones.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from app.config import Settings
from tests.fixtures import Actor, Exchange

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "feed_settings(**values): override Settings fields for this test")


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": tmp_path / "data",
        "log_origin": "lnx.test/log",
        "webhook_allow_private": True,
        "access_log": False,
        "integrate_interval_ms": 20,
        "webhook_schedule_s": [0.2, 0.5],
        "webhook_timeout_s": 2.0,
        "sse_keepalive_s": 0.5,
        "rate_limit_per_minute": 0,
    }
    marker = request.node.get_closest_marker("feed_settings")
    if marker is not None:
        values.update(marker.kwargs)
    return Settings(**values)


# --- a small exchange ------------------------------------------------------------------------


@dataclass
class World:
    """IND, PAK, FRA in ``hcoc``; IND and PAK also in ``in-pk-2005``; HCOC_AUDIT entrusted with
    ``hcoc``; RESEARCH an auditor entrusted with nothing."""

    exchange: Exchange
    ind: Actor
    pak: Actor
    fra: Actor
    hcoc_auditor: Actor
    auditor: Actor

    @property
    def client(self) -> Any:
        return self.exchange.client


def build_world(exchange: Exchange) -> World:
    return World(
        exchange=exchange,
        ind=exchange.add("IND", regimes=("hcoc", "in-pk-2005")),
        pak=exchange.add("PAK", regimes=("hcoc", "in-pk-2005")),
        fra=exchange.add("FRA", regimes=("hcoc",)),
        hcoc_auditor=exchange.add("HCOC_AUDIT", "auditor", regimes=("hcoc",), key=None, scopes="read"),
        auditor=exchange.add("RESEARCH", "auditor", key=None, scopes="read"),
    )


@pytest.fixture
def world(exchange: Exchange) -> World:
    return build_world(exchange)


# --- a real uvicorn server -----------------------------------------------------------------------


class LiveServer:
    """The app under a real uvicorn server on 127.0.0.1 (a thread of this process)."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()


@pytest.fixture
def live(app: Any) -> Iterator[LiveServer]:
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_exchange(live: LiveServer, operator_token: str) -> Iterator[Exchange]:
    with httpx.Client(base_url=live.url, timeout=20) as client:
        yield Exchange(client=client, operator=Actor(code="ICC", role="operator", token=operator_token))  # type: ignore[arg-type]


@pytest.fixture
def live_world(live_exchange: Exchange) -> World:
    return build_world(live_exchange)


# --- a real webhook receiver ---------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, dict[str, str], float]
"""(status, headers, delay in seconds before answering)."""


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every request and answers as ``respond`` says."""

    respond: Callable[[Received], Reply] = lambda _r: (200, {}, 0.0)
    requests: list[Received] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self.requests):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"receiver: condition not met in {timeout} s; got {len(self.requests)}"
                    )
                self.cond.wait(remaining)
            return list(self.requests)

    def count(self, n: int, timeout: float = 15.0) -> list[Received]:
        return self.wait_for(lambda rs: len(rs) >= n, timeout)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            if len(body) < length:
                return  # the sender died mid-request (the kill -9 test): nothing was delivered
            record = Received(
                self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()
            )
            with receiver.cond:  # received, whatever the answer will be
                receiver.requests.append(record)
                receiver.cond.notify_all()
            status, headers, delay = receiver.respond(record)
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the worker gave up (timeout) or was killed

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    server.daemon_threads = True
    rec.server = server
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- helpers ---------------------------------------------------------------------------------


def poll(client: Any, actor: Actor, **params: Any) -> Any:
    return client.get("/v1/feed", params=params, headers=actor.headers)


def poll_all(client: Any, actor: Actor, after: str = "0", **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Every event visible to ``actor`` past ``after``, page by page; and the final cursor."""
    events: list[dict[str, Any]] = []
    cursor = after
    for _ in range(1000):
        response = poll(client, actor, after=cursor, limit=params.pop("limit", 100), **params)
        assert response.status_code == 200, response.text
        page = response.json()
        events.extend(page["events"])
        if page["next"] == cursor:
            return events, cursor
        cursor = page["next"]
    raise AssertionError("the feed did not come to an end")


def read_sse(
    response: httpx.Response, until: Callable[[list[dict[str, str]]], bool], timeout: float = 15.0
) -> list[dict[str, str]]:
    """Parse an ``text/event-stream`` body into blocks (``{"id", "data"}`` or ``{"comment"}``)."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    for line in response.iter_lines():
        if time.monotonic() > deadline:
            raise AssertionError(f"stream: condition not met in {timeout} s; got {blocks}")
        if line == "":
            if current:
                blocks.append(current)
                current = {}
                if until(blocks):
                    return blocks
            continue
        if line.startswith(":"):
            current.setdefault("comment", line[1:].strip())
            continue
        name, _, value = line.partition(":")
        current[name] = value[1:] if value.startswith(" ") else value
    if current:
        blocks.append(current)
    return blocks


def sse_events(blocks: list[dict[str, str]]) -> list[dict[str, Any]]:
    out = []
    for block in blocks:
        if "data" in block:
            event = json.loads(block["data"])
            assert block["id"] == event["id"]
            out.append(event)
    return out
