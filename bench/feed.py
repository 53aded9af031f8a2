"""Benchmark of the feed (app.feed): streams, long polls, polling and webhooks; not a test. Prints figures.

Against one real uvicorn worker on 127.0.0.1 (SQLite by default, PostgreSQL with --postgres):

(a) N concurrent SSE subscribers (raw asyncio sockets, so the client side stays cheap): the delay
    from the submitter's 201 to the event's arrival at every subscriber, p50/p99, for M
    documents submitted one at a time; the server's RSS idle and with the N streams open;
(b) N clients in long polls (``wait=30``, re-polling at once): the same delay;
(c) req/s of polling an up-to-date cursor (``wait=0``, authenticated) beside ``/bench/bare``
    returning the same bytes from a plain route in the same app, and their ratio (wrk);
(d) webhook deliveries/s to a local receiver: S subscriptions and K documents, fanned out and
    delivered from a backlog (the subscriptions are re-enabled after the documents are in).

The client and the server share this machine's cores, so the delays include the client's own
scheduling; compare figures of the same run.

Usage: .venv/bin/python bench/feed.py [--clients N] [--events M] [--gap S] [--poll-gap S]
                                      [--webhook-docs K] [--subscriptions S] [--duration D]
                                      [--postgres URL] [--skip abcd]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import Response

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lnx_client.core import jwk as core_jwk  # noqa: E402
from lnx_client.core import jws as core_jws  # noqa: E402

from app import migrate  # noqa: E402
from app.auth import service as auth_service  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import make_engine, make_sessionmaker, session_scope  # noqa: E402
from app.participants import service as participants_service  # noqa: E402
from app.participants.schemas import ParticipantCreate  # noqa: E402
from bench.common import postgres_database, stop_process  # noqa: E402

# ---------------------------------------------------------------- the server


def bench_app() -> Any:
    """The real app plus ``/bench/bare``: ``{"events":[],"next":"<head>"}`` from a plain route."""
    from app.main import create_app

    app = create_app()
    bare = os.environ.get("LNX_BENCH_BARE", '{"events":[],"next":"0"}').encode()

    @app.get("/bench/bare")
    async def bare_route() -> Response:
        return Response(bare, media_type="application/json", headers={"Cache-Control": "no-store"})

    return app


def wait_for_waiters(server: Server, clients: int, timeout: float = 120.0) -> float:
    """Until the server holds every client in its hub (``/readyz`` reports the hub's waiters)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        checks = httpx.get(server.base + "/readyz", timeout=10).json()["checks"]
        if checks.get("feed", {}).get("hub_waiters", 0) >= clients:
            break
        time.sleep(0.1)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(samples: list[float], q: int) -> float:
    if len(samples) < 2:
        return samples[0] if samples else float("nan")
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, extra_env: dict[str, str] | None = None) -> None:
        cmd = [sys.executable, "-m", "uvicorn", "bench.feed:bench_app", "--factory", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--log-level", "warning", "--no-access-log"]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env={**self.env, **(extra_env or {})})
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.base + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


# ---------------------------------------------------------------- participants and documents


class Actors:
    def __init__(self, settings: Settings, client: httpx.Client) -> None:
        engine = make_engine(settings.resolved_database_url, pool_size=1)
        try:
            for session in session_scope(make_sessionmaker(engine)):
                participants_service.add_participant(
                    session, ParticipantCreate(code="ICC", name="Operator", role="operator")
                )
                operator = auth_service.issue_token(session, "ICC", "read,submit,admin").token
        finally:
            engine.dispose()
        self.client = client
        self.op = {"Authorization": f"Bearer {operator}"}
        self.ind_key = core_jwk.generate_private_jwk("Ed25519")
        self.ind = self._add("IND", self.ind_key)
        self.pak = self._add("PAK", None)
        self.serial = 0

    def _add(self, code: str, private: dict[str, Any] | None) -> dict[str, str]:
        c, op = self.client, self.op
        c.post(
            "/v1/participants", json={"code": code, "name": code, "role": "state"}, headers=op
        ).raise_for_status()
        if private is not None:
            public = core_jwk.public_jwk_from_private(private)
            c.post(f"/v1/participants/{code}/keys", json={"jwk": public}, headers=op).raise_for_status()
        token = c.post("/v1/tokens", json={"participant": code, "scopes": ["read", "submit"]}, headers=op)
        token.raise_for_status()
        c.post("/v1/regimes/hcoc/members", json={"participant": code}, headers=op).raise_for_status()
        return {"Authorization": f"Bearer {token.json()['token']}"}

    def document(self) -> str:
        self.serial += 1
        now = datetime.now(UTC)
        start = now + timedelta(days=10)
        payload = {
            "type": "pre-launch",
            "id": f"IND-{start.year}-B{self.serial:06d}",
            "issuer": "IND",
            "issued_at": now.isoformat().replace("+00:00", "Z"),
            "regime": "hcoc",
            "recipients": ["*"],
            "vehicle": {"category": "space-launch-vehicle", "generic_class": "SLV"},
            "window": {
                "start": start.isoformat().replace("+00:00", "Z"),
                "end": (start + timedelta(days=2)).isoformat().replace("+00:00", "Z"),
            },
            "launch_area": {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [80.23, 13.72]},
                "properties": {"radius_km": 5, "name": "Sriharikota"},
            },
            "direction": {"azimuth_deg": 135.0},
            "impact_areas": [
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[85.5, 7.5], [86.5, 7.5], [86.5, 8.5], [85.5, 8.5], [85.5, 7.5]]],
                    },
                    "properties": {},
                }
            ],
        }
        return core_jws.sign_compact(payload, core_jws.JwkSigner(self.ind_key))

    def submit(self) -> tuple[float, float]:
        """Submit one document; when the request was sent and when its 201 arrived."""
        token = self.document()
        sent = time.perf_counter()
        response = self.client.post(
            "/v1/documents", content=token, headers={**self.ind, "content-type": "application/jose"}
        )
        answered = time.perf_counter()
        assert response.status_code == 201, response.text
        return sent, answered

    def head(self) -> int:
        r = self.client.get("/v1/feed", params={"after": "latest"}, headers=self.pak)
        return int(r.json()["next"])


# ---------------------------------------------------------------- raw asyncio HTTP clients


async def _read_head(reader: asyncio.StreamReader) -> dict[str, str]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    assert " 200 " in lines[0] + " ", lines[0]
    return {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}


async def sse_client(
    port: int, auth: str, after: int, connected: list[int], arrivals: dict[int, list[float]]
) -> None:
    """One subscriber: de-chunks the stream and notes when each ``id:`` arrives."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(
        f"GET /v1/stream?after={after} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
        f"Accept: text/event-stream\r\n\r\n".encode()
    )
    await _read_head(reader)
    body = b""
    first = True
    try:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.strip(), 16)
            if size == 0:
                return
            chunk = await reader.readexactly(size + 2)
            now = time.perf_counter()
            body += chunk[:-2]
            *blocks, body = body.split(b"\n\n")
            for block in blocks:
                if first:
                    connected[0] += 1
                    first = False
                if block.startswith(b"id: "):
                    seq = int(block[4 : block.index(b"\n")])
                    arrivals.setdefault(seq, []).append(now)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        return
    finally:
        writer.close()


async def poll_client(
    port: int, auth: str, after: int, stop: asyncio.Event, ready: list[int], arrivals: dict[int, list[float]]
) -> None:
    """One long-polling client on a keep-alive connection, re-polling as soon as it is answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
    cursor = after
    counted = False
    try:
        while not stop.is_set():
            writer.write(
                f"GET /v1/feed?after={cursor}&wait=30&limit=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: {auth}\r\n\r\n".encode()
            )
            if not counted:
                ready[0] += 1
                counted = True
            headers = await _read_head(reader)
            body = await reader.readexactly(int(headers["content-length"]))
            now = time.perf_counter()
            page = orjson.loads(body)
            for event in page["events"]:
                arrivals.setdefault(int(event["id"]), []).append(now)
            cursor = int(page["next"])
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        return
    finally:
        writer.close()


def report_delays(
    label: str, submitted: dict[int, tuple[float, float]], arrivals: dict[int, list[float]], clients: int
) -> None:
    """Delays from the 201 (negative: the event arrived before the submitter's answer, which waits
    for a signed checkpoint) and from the moment the submission was sent."""
    pairs = [(t, submitted[seq]) for seq, times in arrivals.items() if seq in submitted for t in times]
    after_201 = [(t - answered) * 1e3 for t, (_sent, answered) in pairs]
    after_post = [(t - sent) * 1e3 for t, (sent, _answered) in pairs]
    answers = [(answered - sent) * 1e3 for sent, answered in submitted.values()]
    print(f"  {label}: {len(pairs):,} of {clients * len(submitted):,} arrivals")
    medians = [
        statistics.median((t - submitted[seq][1]) * 1e3 for t in times)
        for seq, times in sorted(arrivals.items())
        if seq in submitted
    ]
    spreads = [
        percentile(times, 99) * 1e3 - percentile(times, 50) * 1e3
        for seq, times in sorted(arrivals.items())
        if seq in submitted
    ]
    print("    median delay after the 201 per document (ms): " + " ".join(f"{m:.0f}" for m in medians))
    print("    spread p99 - p50 within each document (ms):   " + " ".join(f"{d:.0f}" for d in spreads))
    print(
        f"    after the 201:           p50 {percentile(after_201, 50):7.1f} ms  "
        f"p99 {percentile(after_201, 99):7.1f} ms  max {max(after_201):7.1f} ms"
    )
    print(
        f"    after the POST was sent: p50 {percentile(after_post, 50):7.1f} ms  "
        f"p99 {percentile(after_post, 99):7.1f} ms  (the 201 took p50 {percentile(answers, 50):.1f} ms)"
    )


async def run_streams(server: Server, actors: Actors, clients: int, events: int, gap: float) -> None:
    auth = actors.pak["Authorization"]
    head = actors.head()
    connected = [0]
    arrivals: dict[int, list[float]] = {}
    idle_rss = rss_mib(server.proc.pid)  # type: ignore[union-attr]
    tasks = []
    started = time.perf_counter()
    for i in range(clients):
        tasks.append(asyncio.create_task(sse_client(server.port, auth, head, connected, arrivals)))
        if i % 50 == 49:
            await asyncio.sleep(0.01)
    while connected[0] < clients and time.perf_counter() - started < 120:
        await asyncio.sleep(0.05)
    await asyncio.to_thread(wait_for_waiters, server, clients)
    print(f"\n(a) {connected[0]:,} SSE streams open and waiting in {time.perf_counter() - started:.1f} s")
    await asyncio.sleep(0.5)
    open_rss = rss_mib(server.proc.pid)  # type: ignore[union-attr]
    print(
        f"  server RSS: idle {idle_rss:.0f} MiB, with {connected[0]:,} streams {open_rss:.0f} MiB "
        f"({(open_rss - idle_rss) * 1024 / max(connected[0], 1):.0f} KiB per stream)"
    )
    answered: dict[int, tuple[float, float]] = {}
    for i in range(events):
        answered[head + i + 1] = await asyncio.to_thread(actors.submit)
        await asyncio.sleep(gap)
    deadline = time.perf_counter() + 30
    while sum(len(v) for v in arrivals.values()) < clients * events and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    print(f"  server RSS after {events} events: {rss_mib(server.proc.pid):.0f} MiB")  # type: ignore[union-attr]
    report_delays(f"{events} documents, one every {gap:g} s", answered, arrivals, clients)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def run_polls(server: Server, actors: Actors, clients: int, events: int, gap: float) -> None:
    auth = actors.pak["Authorization"]
    head = actors.head()
    stop = asyncio.Event()
    ready = [0]
    arrivals: dict[int, list[float]] = {}
    tasks = []
    for i in range(clients):
        tasks.append(asyncio.create_task(poll_client(server.port, auth, head, stop, ready, arrivals)))
        if i % 50 == 49:
            await asyncio.sleep(0.01)
    started = time.perf_counter()
    while ready[0] < clients:
        await asyncio.sleep(0.05)
    await asyncio.to_thread(wait_for_waiters, server, clients)
    print(
        f"\n(b) {clients:,} clients in long polls (wait=30), all held after {time.perf_counter() - started:.1f} s"
    )
    await asyncio.sleep(0.5)
    answered: dict[int, tuple[float, float]] = {}
    for i in range(events):
        answered[head + i + 1] = await asyncio.to_thread(actors.submit)
        await asyncio.sleep(gap)
    deadline = time.perf_counter() + 30
    while sum(len(v) for v in arrivals.values()) < clients * events and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    print(f"  server RSS with {clients:,} polls held: {rss_mib(server.proc.pid):.0f} MiB")  # type: ignore[union-attr]
    report_delays(f"{events} documents, one every {gap:g} s", answered, arrivals, clients)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# ---------------------------------------------------------------- (c) polling an up-to-date cursor

_WRK_RPS = re.compile(r"Requests/sec:\s+([0-9.]+)")
_WRK_P99 = re.compile(r"^\s+99%\s+([0-9.]+)(us|ms|s)\s*$", re.M)


def wrk(url: str, duration: float, connections: int, header: str | None = None) -> tuple[float, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration:.0f}s", "--latency"]
    if header:
        cmd += ["-H", header]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    rps = float(_WRK_RPS.search(out).group(1))  # type: ignore[union-attr]
    value, unit = _WRK_P99.search(out).groups()  # type: ignore[union-attr]
    return rps, float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def run_poll_rate(server: Server, actors: Actors, duration: float, connections: int) -> None:
    head = actors.head()
    url = f"{server.base}/v1/feed?after={head}"
    body = httpx.get(url, headers=actors.pak).content
    server.stop()
    server.start({"LNX_BENCH_BARE": body.decode()})
    assert httpx.get(server.base + "/bench/bare").content == body
    print(
        f"\n(c) polling an up-to-date cursor (wait=0), wrk {connections} connections, {duration:.0f} s each"
    )
    if not shutil.which("wrk"):
        print("  wrk is not installed: skipped")
        return
    bare_rps, bare_p99 = wrk(server.base + "/bench/bare", duration, connections)
    auth = f"Authorization: {actors.pak['Authorization']}"
    feed_rps, feed_p99 = wrk(url, duration, connections, auth)
    subs_rps, subs_p99 = wrk(server.base + "/v1/subscriptions", duration, connections, auth)
    print(f"  bare endpoint, same {len(body)} bytes        {bare_rps:>8,.0f} req/s   p99 {bare_p99:6.1f} ms")
    print(f"  GET /v1/feed?after=<head> (token, head) {feed_rps:>8,.0f} req/s   p99 {feed_p99:6.1f} ms")
    print(f"  GET /v1/subscriptions (token + one query) {subs_rps:>8,.0f} req/s   p99 {subs_p99:6.1f} ms")
    print(
        f"  feed / bare: {feed_rps / bare_rps:.2f}   feed / cheapest authenticated read: {feed_rps / subs_rps:.2f}"
    )


# ---------------------------------------------------------------- (d) webhooks


class Sink:
    """A minimal asyncio HTTP/1.1 receiver answering 204 to everything (on its own thread)."""

    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
                    await reader.readexactly(length)
                    now = time.perf_counter()
                    self.first = self.first or now
                    self.last = now
                    self.count += 1
                    writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()

        async def main() -> None:
            await asyncio.start_server(handle, "127.0.0.1", self.port, backlog=1024)
            self.ready.set()
            await asyncio.Event().wait()

        self.loop.run_until_complete(main())


def run_webhooks(server: Server, actors: Actors, subscriptions: int, documents: int) -> None:
    sink = Sink()
    client = actors.client
    ids = []
    for _ in range(subscriptions):
        r = client.post(
            "/v1/subscriptions", json={"url": f"http://127.0.0.1:{sink.port}/hook"}, headers=actors.pak
        )
        r.raise_for_status()
        ids.append(r.json()["id"])
    for sub_id in ids:
        client.patch(
            f"/v1/subscriptions/{sub_id}", json={"enabled": False}, headers=actors.pak
        ).raise_for_status()
    for _ in range(documents):
        actors.submit()
    expected = subscriptions * documents
    started = time.perf_counter()
    for sub_id in ids:
        client.patch(
            f"/v1/subscriptions/{sub_id}", json={"enabled": True}, headers=actors.pak
        ).raise_for_status()
    deadline = time.perf_counter() + 300
    while sink.count < expected and time.perf_counter() < deadline:
        time.sleep(0.05)
    elapsed = sink.last - started
    rate = sink.count / elapsed
    print(f"\n(d) webhooks: {subscriptions} subscriptions x {documents} documents = {expected:,} deliveries")
    print(
        f"  {sink.count:,} delivered in {elapsed:.1f} s from re-enabling: {rate:,.0f} deliveries/s "
        f"(first after {(sink.first - started) * 1e3:.0f} ms; fan-out, lease, render, sign, POST, record each)"
    )
    baseline = asyncio.run(_httpx_alone(sink, min(expected, 2000), 32))
    print(
        f"  baseline, same run: httpx alone, 32 concurrent POSTs of 3 KB to the same receiver: "
        f"{baseline:,.0f} req/s (deliveries / baseline: {rate / baseline:.2f})"
    )


async def _httpx_alone(sink: Sink, requests: int, concurrency: int) -> float:
    """The HTTP client's own bound in this run: plain POSTs, no database, no signing."""
    body = b"x" * 3000
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:
        semaphore = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with semaphore:
                (await client.post(f"http://127.0.0.1:{sink.port}/baseline", content=body)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        return requests / (time.perf_counter() - started)


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000, help="SSE subscribers and long-polling clients")
    parser.add_argument("--events", type=int, default=20, help="documents submitted in (a) and (b)")
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between the documents of (a)")
    parser.add_argument(
        "--poll-gap",
        type=float,
        default=2.5,
        help="seconds between the documents of (b): every event brings all polls back at once",
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds of wrk load in (c)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections in (c)")
    parser.add_argument("--subscriptions", type=int, default=10)
    parser.add_argument("--webhook-docs", type=int, default=100)
    parser.add_argument("--postgres", help="a PostgreSQL server URL: a throw-away database is used there")
    parser.add_argument("--skip", default="", help="letters of the parts to skip, e.g. 'cd'")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = Path(tempfile.mkdtemp(prefix="lnx-bench-feed-"))
    drop_database = None
    if args.postgres:
        url, drop_database = postgres_database(args.postgres)
    else:
        url = f"sqlite:///{work / 'lnx.sqlite3'}"
    settings = Settings(database_url=url, data_dir=work / "data")
    migrate.upgrade(url)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"lnx feed benchmark: {args.clients:,} clients, {backend}, one uvicorn worker; "
        f"python {sys.version.split()[0]}; {os.cpu_count()} CPUs; open files {hard}"
    )
    env = {
        **os.environ,
        "LNX_DATABASE_URL": url,
        "LNX_DATA_DIR": str(settings.data_dir),
        "LNX_ACCESS_LOG": "false",
        "LNX_GC_FREEZE_AFTER_STARTUP": "true",  # as `lnx serve` sets it
        "LNX_LOG_LEVEL": "WARNING",
        "LNX_RATE_LIMIT_PER_MINUTE": "0",
        "LNX_MAX_STREAMS": str(args.clients * 2 + 100),
        "LNX_WEBHOOK_ALLOW_PRIVATE": "true",
        "LNX_METRICS_ENABLED": "false",
    }
    server = Server(env)
    server.start()
    try:
        with httpx.Client(base_url=server.base, timeout=60) as client:
            actors = Actors(settings, client)
            actors.submit()  # warm-up
            if "a" not in args.skip:
                asyncio.run(run_streams(server, actors, args.clients, args.events, args.gap))
            if "b" not in args.skip:
                asyncio.run(run_polls(server, actors, args.clients, args.events, args.poll_gap))
            if "c" not in args.skip:
                run_poll_rate(server, actors, args.duration, args.connections)
            if "d" not in args.skip:
                run_webhooks(server, actors, args.subscriptions, args.webhook_docs)
    finally:
        server.stop()
        if drop_database is not None:
            drop_database()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
