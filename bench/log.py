"""Benchmark of the log's storage and HTTP paths (app.log); not a test. Prints figures.

1. Storage: sequence + integrate N leaves (default 1,000,000) in batches, each step its own
   committed transaction, on SQLite (and on PostgreSQL when LNX_BENCH_DATABASE_URL names a
   server: a throw-away database is created there and dropped). Cumulative leaves/s of each
   step and of both, the rate over the last tenth, and this process's RSS as the tree grows.
2. HTTP, against the SQLite log of step 1 served by one uvicorn worker on 127.0.0.1:
   inclusion-proof latency p50/p99 (httpx, one request at a time, random leaves), then
   req/s and p99 under load (wrk if installed, else an httpx load loop) of a full tile, a
   partial tile, an inclusion proof and the checkpoint, beside a bare endpoint in the same app
   returning the same bytes as the full tile (the ratio tile / bare is printed), and the
   server's RSS after the load.

Usage: .venv/bin/python bench/log.py [--leaves N] [--batch B] [--proofs K] [--duration S]
                                     [--connections C] [--skip-http] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import Request, Response

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lnx_client.core import tiles  # noqa: E402
from lnx_client.core.entry import format_integrated_time  # noqa: E402

from app import migrate  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import make_engine, make_sessionmaker, session_scope  # noqa: E402
from app.log import service  # noqa: E402
from app.log.signer import load_or_create_signer  # noqa: E402
from bench.common import postgres_database  # noqa: E402

ORIGIN = "bench.lnx.example/log"


def rss_mib(pid: int | str = "self") -> float:
    """Resident set size from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def leaf_batch(start: int, count: int, stamp: str) -> list[bytes]:
    """lnx-entry/v1 leaves for made-up JWS digests (built outside the timed sections)."""
    return [
        f"lnx-entry/v1\n{hashlib.sha256(i.to_bytes(8, 'big')).hexdigest()}\n{stamp}\n".encode()
        for i in range(start, start + count)
    ]


# ---------------------------------------------------------------- 1. storage path


def storage(url: str, label: str, settings: Settings, leaves: int, batch: int) -> None:
    engine = make_engine(url, pool_size=2)
    factory = make_sessionmaker(engine)
    signer = load_or_create_signer(settings)
    for session in session_scope(factory):
        service.ensure_checkpoint(session, signer, ORIGIN)
    now = datetime.now(UTC)
    stamp = format_integrated_time(now)
    t_seq = t_int = 0.0
    marks = {leaves * k // 10 for k in range(1, 11)}
    print(f"\n[{label}] sequence + integrate {leaves:,} leaves in batches of {batch:,}")
    print(
        f"  {'size':>10} {'seq leaves/s':>13} {'int leaves/s':>13} {'both leaves/s':>14} {'last 10%':>10} {'RSS MiB':>8}"
    )
    done = 0
    last_done, last_time = 0, 0.0
    while done < leaves:
        count = min(batch, leaves - done)
        datas = leaf_batch(done, count, stamp)
        t0 = time.perf_counter()
        for session in session_scope(factory):
            service.sequence_many(session, datas, now)
        t1 = time.perf_counter()
        for session in session_scope(factory):
            record = service.integrate(
                session, signer, ORIGIN, max_leaves=max(batch, service.DEFAULT_INTEGRATE_BATCH)
            )
        t2 = time.perf_counter()
        assert record is not None and record.size == done + count
        t_seq += t1 - t0
        t_int += t2 - t1
        done += count
        if any(done - count < m <= done for m in marks):
            interval = (done - last_done) / (t_seq + t_int - last_time)
            last_done, last_time = done, t_seq + t_int
            print(
                f"  {done:>10,} {done / t_seq:>13,.0f} {done / t_int:>13,.0f} "
                f"{done / (t_seq + t_int):>14,.0f} {interval:>10,.0f} {rss_mib():>8.0f}"
            )
    engine.dispose()


# ---------------------------------------------------------------- 2. HTTP path


_BARE: dict[str, bytes] = {}


def bench_app() -> Any:
    """The real app plus ``/bench/bare``: the bytes of tile 0/000 from a plain route (the baseline)."""
    from app.main import create_app

    app = create_app()

    @app.get("/bench/bare")
    async def bare(request: Request) -> Response:
        data = _BARE.get("tile")
        if data is None:
            for session in session_scope(request.app.state.sessionmaker, read_only=True):
                data = service.tile(session, 0, 0, 256)
            _BARE["tile"] = data
        return Response(data, media_type="application/octet-stream")

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


_WRK_RPS = re.compile(r"Requests/sec:\s+([0-9.]+)")
_WRK_P99 = re.compile(r"^\s+99%\s+([0-9.]+)(us|ms|s)\s*$", re.M)


def load(url: str, duration: float, connections: int) -> tuple[float, float]:
    """(req/s, p99 ms) of GETs on ``url`` under ``connections`` concurrent connections."""
    if shutil.which("wrk"):
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{duration:.0f}s", "--latency", url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rps = float(_WRK_RPS.search(out).group(1))  # type: ignore[union-attr]
        value, unit = _WRK_P99.search(out).groups()  # type: ignore[union-attr]
        return rps, float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    return _httpx_load(url, duration, connections)


def _httpx_load(url: str, duration: float, connections: int) -> tuple[float, float]:
    import asyncio

    async def run() -> list[float]:
        latencies: list[float] = []
        deadline = time.perf_counter() + duration
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=connections)) as client:

            async def worker() -> None:
                while time.perf_counter() < deadline:
                    t0 = time.perf_counter()
                    r = await client.get(url)
                    r.raise_for_status()
                    latencies.append(time.perf_counter() - t0)

            await asyncio.gather(*(worker() for _ in range(connections)))
        return latencies

    latencies = asyncio.run(run())
    return len(latencies) / duration, percentile(latencies, 99) * 1e3


def http(settings: Settings, url: str, size: int, proofs: int, duration: float, connections: int) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LNX_DATABASE_URL": url,
        "LNX_DATA_DIR": str(settings.data_dir),
        "LNX_LOG_ORIGIN": ORIGIN,
        "LNX_ACCESS_LOG": "false",
        "LNX_LOG_LEVEL": "WARNING",
        "LNX_RUN_WEBHOOK_WORKER": "false",
        "LNX_RATE_LIMIT_PER_MINUTE": "0",
    }
    cmd = [sys.executable, "-m", "uvicorn", "bench.log:bench_app", "--factory", "--host", "127.0.0.1"]
    proc = subprocess.Popen([*cmd, "--port", str(port), "--log-level", "warning"], cwd=REPO, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        print(f"\n[http] one uvicorn worker on 127.0.0.1, SQLite log of {size:,} leaves")
        rng = random.Random(1)
        latencies = []
        with httpx.Client(base_url=base) as client:
            for _ in range(200):  # warm-up
                client.get("/v1/log/proof/inclusion", params={"index": rng.randrange(size), "size": size})
            for _ in range(proofs):
                index = rng.randrange(size)
                t0 = time.perf_counter()
                r = client.get("/v1/log/proof/inclusion", params={"index": index, "size": size})
                latencies.append(time.perf_counter() - t0)
                assert r.status_code == 200, r.text
        print(
            f"  inclusion proof latency ({proofs:,} sequential, random index): "
            f"p50 {percentile(latencies, 50) * 1e3:.2f} ms   p99 {percentile(latencies, 99) * 1e3:.2f} ms"
        )
        partial = [t for t in tiles.tiles_for_size(size) if t[0] == 0][-1]
        targets = [
            ("bare endpoint, same 8 KiB", "/bench/bare"),
            ("full tile (tile/0/000)", "/v1/log/tile/0/000"),
            (f"partial tile ({tiles.tile_path(*partial)})", "/v1/log/" + tiles.tile_path(*partial)),
            ("inclusion proof (fixed leaf)", f"/v1/log/proof/inclusion?index={size // 3}&size={size}"),
            ("checkpoint", "/v1/log/checkpoint"),
            ("bare endpoint again (order effects)", "/bench/bare"),
        ]
        tool = "wrk" if shutil.which("wrk") else "httpx"
        print(f"  under load: {tool}, {connections} connections, {duration:.0f} s each")
        results = {}
        for label, path in targets:
            httpx.get(base + path).raise_for_status()
            rps, p99 = load(base + path, duration, connections)
            results[label] = rps
            print(f"  {label:<40} {rps:>9,.0f} req/s   p99 {p99:>7.1f} ms")
        bare = (results["bare endpoint, same 8 KiB"] + results["bare endpoint again (order effects)"]) / 2
        print(
            f"  full tile / bare endpoint (mean of both bare runs): {results['full tile (tile/0/000)'] / bare:.2f}"
        )
        print(f"  server RSS after the load: {rss_mib(proc.pid):.0f} MiB")
    finally:
        proc.terminate()
        proc.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000, help="leaves per sequencing transaction")
    parser.add_argument("--proofs", type=int, default=2000, help="sequential inclusion-proof requests")
    parser.add_argument("--duration", type=float, default=10, help="seconds of load per endpoint")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--workdir", type=Path, help="keep the SQLite log here (default: a temporary directory)"
    )
    parser.add_argument(
        "--skip-storage",
        action="store_true",
        help="serve the log already in --workdir (made by an earlier run)",
    )
    args = parser.parse_args()

    print(
        f"lnx log benchmark: {args.leaves:,} leaves; python {sys.version.split()[0]}; {os.cpu_count()} CPUs"
    )
    work = args.workdir or Path(tempfile.mkdtemp(prefix="lnx-bench-"))
    try:
        settings = Settings(data_dir=work / "data", log_origin=ORIGIN)
        sqlite_url = settings.resolved_database_url
        if not args.skip_storage:
            settings.data_dir.mkdir(parents=True)
            migrate.upgrade(sqlite_url)
            storage(sqlite_url, "sqlite", settings, args.leaves, args.batch)
        pg_server = os.environ.get("LNX_BENCH_DATABASE_URL")
        if pg_server and not args.skip_postgres and not args.skip_storage:
            pg_url, drop = postgres_database(pg_server)
            try:
                migrate.upgrade(pg_url)
                storage(pg_url, "postgresql", settings, args.leaves, args.batch)
            finally:
                drop()
        if not args.skip_http:
            http(settings, sqlite_url, args.leaves, args.proofs, args.duration, args.connections)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
