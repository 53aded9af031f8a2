"""Benchmark of document submission end to end (POST /v1/documents); not a test. Prints figures.

For each configuration -- SQLite with 1 worker, and with LNX_BENCH_DATABASE_URL naming a
PostgreSQL server (a throw-away database is created there and dropped) PostgreSQL with 1 and
2 workers -- two real uvicorn servers run on 127.0.0.1, served the same way (``app.serving``:
with several workers, each listens on a socket of its own):

* ``lnx serve``: the exchange, with participants, keys and tokens seeded through the services;
* a bare FastAPI app (``bare_app`` below, served by ``bench/bare_server.py``) whose POST
  /v1/documents only runs the same JWS check (``app.documents.signature.parse`` + ``verify``,
  keys from a dict) and answers 201: the bound on submissions without a database (LIMITS.md:
  ~1,500-1,700/s on one worker).

Each run submits N freshly pre-signed ~1 KB documents (pre-launch, recipients ``*``, from
several issuers) over C keep-alive connections, from a small asyncio HTTP/1.1 client in this
process (request bytes built before the clock starts); bare and lnx runs alternate so that drift
on a shared machine hits both. Printed: accepted (201) submissions/s, p50/p99 latency, the
server's CPU time per request (user + system of its worker processes, from /proc; for PostgreSQL
the database backends' CPU is not included), the ratio lnx / bare, medians over the runs (and
the ratio run by run: each lnx run against the bare run just before it), the exchange's
documents per group-commit batch (documents / signed checkpoints of a run: with two
workers, each batch holds only its worker's share of the clients), and each server's worker RSS
before and after. On a busy machine the CPU cost per request is the
steadier figure: throughput then depends on how much CPU the scheduler hands out. Group commit
is set by LNX_SUBMIT_BATCH_MAX / LNX_SUBMIT_BATCH_WAIT_MS (passed through to the server).

Usage: .venv/bin/python bench/submit.py [--documents N] [--concurrency 32,64] [--runs R]
                                        [--issuers K] [--members M] [--skip-postgres]
                                        [--skip-sqlite]
                                        [--workers 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
from fastapi import FastAPI, Request, Response

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lnx_client.core import jwk as core_jwk  # noqa: E402
from lnx_client.core import jws as core_jws  # noqa: E402
from sqlalchemy import text  # noqa: E402

from app import migrate  # noqa: E402
from app.auth import service as auth_service  # noqa: E402
from app.db import make_engine, make_sessionmaker, session_scope  # noqa: E402
from app.documents import signature  # noqa: E402
from app.participants import codes  # noqa: E402
from app.participants import service as participants_service  # noqa: E402
from app.participants.schemas import ParticipantCreate  # noqa: E402
from app.regimes import service as regimes_service  # noqa: E402
from bench.common import postgres_database, stop_process  # noqa: E402

ISSUERS = ("IND", "PAK", "FRA", "USA", "RUS", "CHN", "GBR", "DEU", "JPN", "BRA", "ZAF", "AUS")
WARMUP = 300


# ---------------------------------------------------------------- the bare baseline app


def bare_app() -> FastAPI:
    """POST /v1/documents that parses and verifies like the exchange, then answers 201; no database."""
    keys = {
        kid: core_jwk.parse_public_jwk(jwk)
        for kid, jwk in json.loads(Path(os.environ["LNX_BENCH_KEYS"]).read_text()).items()
    }
    app = FastAPI()

    @app.get("/readyz")
    async def ready() -> Response:
        return Response(b"ok")

    @app.post("/v1/documents", status_code=201)
    async def submit(request: Request) -> Response:
        try:
            parsed = signature.parse(await request.body())
            jwk = keys.get(parsed.kid)
            if jwk is None:
                return Response(b'{"error":"unknown kid"}', 422, media_type="application/json")
            signature.verify(parsed, jwk)
        except signature.JwsError as exc:
            return Response(orjson.dumps({"error": exc.code}), 422, media_type="application/json")
        body = orjson.dumps({"id": parsed.payload.get("id"), "type": parsed.payload.get("type")})
        return Response(body, 201, media_type="application/json")

    return app


# ---------------------------------------------------------------- setup: databases, actors, servers


@dataclass
class Issuer:
    code: str
    token: str
    signer: core_jws.JwkSigner


def seed(url: str, issuers: int, members: int = 0) -> list[Issuer]:
    """Migrate, then add states with a key, a submit token and hcoc membership (the CLI's services).

    ``members``: hcoc's size, filled up with states that only read (the HCoC counts 140-odd), so
    that ``["*"]`` documents are addressed to that many participants.
    """
    migrate.upgrade(url)
    engine = make_engine(url, pool_size=1)
    out = []
    try:
        for session in session_scope(make_sessionmaker(engine)):
            regimes_service.ensure_shipped_regimes(session)
            participants_service.add_participant(
                session, ParticipantCreate(code="ICC", name="Operator", role="operator")
            )
            for code in ISSUERS[:issuers]:
                participants_service.add_participant(
                    session, ParticipantCreate(code=code, name=code, role="state")
                )
                private = core_jwk.generate_private_jwk("Ed25519")
                participants_service.register_key(session, code, core_jwk.public_jwk_from_private(private))
                token = auth_service.issue_token(session, code, "read,submit").token
                regimes_service.join(session, "hcoc", code)
                out.append(Issuer(code, token, core_jws.JwkSigner(private)))
            others = sorted(codes.state_codes() - set(ISSUERS))
            for code in others[: max(0, members - issuers)]:
                participants_service.add_participant(
                    session, ParticipantCreate(code=code, name=code, role="state")
                )
                regimes_service.join(session, "hcoc", code)
    finally:
        engine.dispose()
    return out


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    """Child processes, less multiprocessing's resource tracker (uvicorn's workers are the rest)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(c) for c in (task / "children").read_text().split())
    return [c for c in found if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes (and their threads), from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))
    return total / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A uvicorn server in a subprocess; ``workers()`` are the processes that serve requests."""

    def __init__(self, label: str, cmd: list[str], env: dict[str, str]) -> None:
        self.label = label
        self.port = free_port()
        self.cmd = [*cmd, "--host", "127.0.0.1", "--port", str(self.port)]
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log = Path(self.env["LNX_DATA_DIR"]) / f"server-{self.port}.log"
        with self.log.open("wb") as log:  # the child keeps its own handle
            self.proc = subprocess.Popen(
                self.cmd, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"{self.label} did not start: {' '.join(self.cmd)}")
            time.sleep(0.2)

    def workers(self) -> list[int]:
        assert self.proc is not None
        return children(self.proc.pid) or [self.proc.pid]

    def rss(self) -> str:
        return " + ".join(f"{rss_mib(pid):.0f}" for pid in self.workers()) + " MiB"

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


# ---------------------------------------------------------------- documents and load


def sign_documents(issuers: list[Issuer], count: int, tag: str) -> list[tuple[Issuer, str]]:
    now = datetime.now(UTC)
    start = now + timedelta(days=10)
    out = []
    for i in range(count):
        issuer = issuers[i % len(issuers)]
        payload = {
            "type": "pre-launch",
            "id": f"{issuer.code}-{start.year}-{tag}.{i}",
            "issuer": issuer.code,
            "issued_at": now.isoformat().replace("+00:00", "Z"),
            "regime": "hcoc",
            "recipients": ["*"],
            "vehicle": {"category": "space-launch-vehicle", "generic_class": "SLV", "designation": "PSLV-XL"},
            "window": {
                "start": start.isoformat().replace("+00:00", "Z"),
                "end": (start + timedelta(days=2)).isoformat().replace("+00:00", "Z"),
            },
            "launch_area": {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [80.23, 13.72]},
                "properties": {"radius_km": 5, "name": "Sriharikota"},
            },
            "direction": {"azimuth_deg": 140.0, "tolerance_deg": 5.0},
            "impact_areas": [
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [[81.2, 11.4], [82.4, 11.4], [82.4, 12.4], [81.2, 12.4], [81.2, 11.4]]
                        ],
                    },
                    "properties": {"name": "PS1 drop zone"},
                }
            ],
        }
        out.append((issuer, core_jws.sign_compact(payload, issuer.signer)))
    return out


def request_bytes(port: int, issuer: Issuer, token: str) -> bytes:
    body = token.encode("ascii")
    head = (
        f"POST /v1/documents HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {issuer.token}\r\n"
        f"Content-Type: application/jose\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


async def _connection(port: int, queue: deque[bytes], results: list[tuple[int, float]]) -> None:
    """One keep-alive client; a dropped connection counts as status 0 and is reopened."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    clock = time.perf_counter
    try:
        while queue:
            request = queue.popleft()
            started = clock()
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = _LENGTH.search(head)
                if length:
                    await reader.readexactly(int(length.group(1)))
                results.append((int(head[9:12]), clock() - started))
            except (ConnectionError, asyncio.IncompleteReadError):
                results.append((0, clock() - started))
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


def load(port: int, requests: list[bytes], connections: int) -> tuple[float, list[tuple[int, float]]]:
    """Send every request over ``connections`` keep-alive connections; (seconds, [(status, latency)])."""

    async def run() -> tuple[float, list[tuple[int, float]]]:
        queue, results = deque(requests), []
        started = time.perf_counter()
        await asyncio.gather(*(_connection(port, queue, results) for _ in range(connections)))
        return time.perf_counter() - started, results

    return asyncio.run(run())


@dataclass
class Figures:
    rates: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    errors: dict[int, int] = field(default_factory=dict)
    batch_sizes: list[float] = field(default_factory=list)
    """Documents per signed checkpoint (= per group-commit batch); measured for the exchange only."""

    def add(self, seconds: float, results: list[tuple[int, float]], cpu: float) -> None:
        latencies = sorted(latency for status, latency in results if status == 201)
        self.cpu_ms.append(cpu * 1000 / max(1, len(latencies)))
        for status, _ in results:
            if status != 201:
                self.errors[status] = self.errors.get(status, 0) + 1
        self.rates.append(len(latencies) / seconds)
        qs = statistics.quantiles(latencies, n=100, method="inclusive")
        self.p50.append(qs[49] * 1000)
        self.p99.append(qs[98] * 1000)

    def median(self) -> tuple[float, float, float, float]:
        return (
            statistics.median(self.rates),
            statistics.median(self.p50),
            statistics.median(self.p99),
            statistics.median(self.cpu_ms),
        )


# ---------------------------------------------------------------- one configuration


def configuration(label: str, url: str, workers: int, args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="lnx-bench-submit-"))
    issuers = seed(url, args.issuers, args.members)
    keys_file = data_dir / "bench-keys.json"
    keys_file.write_text(json.dumps({i.signer.kid: i.signer.public_jwk.to_dict() for i in issuers}))
    env = {
        **os.environ,
        "LNX_DATA_DIR": str(data_dir),
        "LNX_DATABASE_URL": url,
        "LNX_ACCESS_LOG": "false",
        "LNX_LOG_LEVEL": "WARNING",
        "LNX_RATE_LIMIT_PER_MINUTE": "0",
        "LNX_BENCH_KEYS": str(keys_file),
    }
    env.pop("LNX_TEST_DATABASE_URL", None)
    engine = make_engine(url, pool_size=1)

    def checkpoints() -> int:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM log_checkpoints")).scalar_one())

    lnx = Server(f"lnx ({label})", [str(REPO / ".venv/bin/lnx"), "serve", "--workers", str(workers)], env)
    bare = Server(
        f"bare ({label})",
        [sys.executable, str(REPO / "bench/bare_server.py"), "--workers", str(workers)],
        env,
    )

    try:
        lnx.start()
        bare.start()
        for server in (lnx, bare):  # warm caches, pools and the import of every lazy module
            warm = sign_documents(issuers, WARMUP, f"w{server.port}")
            load(server.port, [request_bytes(server.port, i, t) for i, t in warm], 8)
        rss_before = {server.label: server.rss() for server in (lnx, bare)}
        for connections in args.concurrency:
            figures = {"bare": Figures(), "lnx": Figures()}
            for run in range(args.runs):
                for name, server in (("bare", bare), ("lnx", lnx)):
                    documents = sign_documents(issuers, args.documents, f"c{connections}r{run}{name[0]}")
                    requests = [request_bytes(server.port, i, t) for i, t in documents]
                    batches_before = checkpoints() if name == "lnx" else 0
                    cpu_before = cpu_seconds(server.workers())
                    seconds, results = load(server.port, requests, connections)
                    figures[name].add(seconds, results, cpu_seconds(server.workers()) - cpu_before)
                    if name == "lnx":
                        batches = checkpoints() - batches_before
                        figures[name].batch_sizes.append(len(requests) / max(1, batches))
            bare_rate, bare_p50, bare_p99, bare_cpu = figures["bare"].median()
            lnx_rate, lnx_p50, lnx_p99, lnx_cpu = figures["lnx"].median()
            errors = {
                f"{name} {status or 'dropped'}": n
                for name in figures
                for status, n in figures[name].errors.items()
            }
            row = (
                f"| {label} | {workers} | {connections} | {bare_rate:,.0f} | {bare_p50:.1f} / {bare_p99:.1f} "
                f"| {bare_cpu:.2f} | {lnx_rate:,.0f} | {lnx_p50:.1f} / {lnx_p99:.1f} | {lnx_cpu:.2f} "
                f"| {lnx_rate / bare_rate:.0%} |" + (f" errors {errors}" if errors else "")
            )
            print(row, flush=True)
            # Each lnx run follows its bare run within seconds: their ratio, run by run, is less
            # exposed to the machine's drift than the ratio of the medians in the row above.
            paired = [
                lnx / bare for lnx, bare in zip(figures["lnx"].rates, figures["bare"].rates, strict=True)
            ]
            print(
                f"  lnx documents per batch (median of runs): {statistics.median(figures['lnx'].batch_sizes):.1f}; "
                f"lnx / bare run by run: {', '.join(f'{r:.0%}' for r in paired)} (median {statistics.median(paired):.0%})",
                flush=True,
            )
            if errors:
                print(f"  server logs: {lnx.log} {bare.log}", flush=True)
        size = int(httpx.get(f"http://127.0.0.1:{lnx.port}/v1/log/checkpoint").text.split("\n")[1])
        expected = WARMUP + args.documents * args.runs * len(args.concurrency)
        print(f"  log size {size:,} (expected {expected:,}); worker RSS before -> after:", flush=True)
        for server in (lnx, bare):
            print(f"  {server.label}: {rss_before[server.label]} -> {server.rss()}", flush=True)
    finally:
        lnx.stop()
        bare.stop()
        engine.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)


def machine_note() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=3000, help="documents per run")
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[32, 64])
    parser.add_argument("--runs", type=int, default=3, help="runs per concurrency; medians are printed")
    parser.add_argument("--issuers", type=int, default=8, help="submitting states (max 12)")
    parser.add_argument(
        "--members", type=int, default=0, help="hcoc members in all, the issuers included (e.g. 140)"
    )
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2], help="PostgreSQL workers"
    )
    args = parser.parse_args()

    batch = os.environ.get("LNX_SUBMIT_BATCH_MAX", "default 256")
    wait = os.environ.get("LNX_SUBMIT_BATCH_WAIT_MS", "default 2")
    print(f"lnx submit benchmark {datetime.now(UTC):%Y-%m-%d %H:%M}Z on {machine_note()}")
    print(
        f"{args.documents:,} documents per run, {args.runs} run(s) per point (medians), {args.issuers} issuers, "
        f"{max(args.members, args.issuers)} hcoc members, "
        f"group commit max {batch} / wait {wait} ms"
    )
    print(
        "| database | workers | clients | bare req/s | bare p50 / p99 ms | bare CPU ms/req "
        "| lnx accepted/s | lnx p50 / p99 ms | lnx CPU ms/doc | lnx / bare |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    if not args.skip_sqlite:
        db_dir = Path(tempfile.mkdtemp(prefix="lnx-bench-db-"))
        try:
            configuration("SQLite", f"sqlite:///{db_dir / 'lnx.sqlite3'}", 1, args)
        finally:
            shutil.rmtree(db_dir, ignore_errors=True)
    server_url = os.environ.get("LNX_BENCH_DATABASE_URL")
    if server_url and not args.skip_postgres:
        for workers in args.workers:
            url, drop = postgres_database(server_url)
            try:
                configuration("PostgreSQL", url, workers, args)
            finally:
                drop()


if __name__ == "__main__":
    main()
