"""Benchmark of one submission batch's CPU, by batch size, without HTTP and without contention; not a test.

``bench/submit.py`` measures the whole exchange under load, where the machine's drift and two
processes fighting for two cores make small changes hard to see. This isolates the group
commit (``app.documents.batcher.SubmissionBatcher``): for each batch size n it submits n
pre-signed documents at once through ``submit_signed`` (so that they form exactly one batch:
intake, verification, the write transaction, integration and the receipts), and measures the
process's CPU time and the wall time of that batch. A straight line through the medians,
``cpu = fixed + per_document * n``, splits the cost into what every batch pays whatever its size
(round trips, the transaction, a checkpoint signature) and what each document adds.

The fixed part is what makes small batches dear: with two workers and 32 clients each worker's
batches hold about a dozen documents. It is also printed in units of a baseline measured in the
same run on the same connection pool: one trivial statement round trip (``SELECT 1``).

Usage: .venv/bin/python bench/batch_cost.py [--sizes 1,4,16,64] [--runs R] [--skip-sqlite]
       (PostgreSQL too when LNX_BENCH_DATABASE_URL names a server; a throw-away database is made)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from lnx_client.core import note  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from app.auth.service import Principal  # noqa: E402
from app.db import make_engine, make_sessionmaker, session_scope  # noqa: E402
from app.documents.batcher import SignedSubmission, SubmissionBatcher  # noqa: E402
from app.log.integrator import Integrator  # noqa: E402
from app.participants.keycache import KeyCache  # noqa: E402
from bench.common import postgres_database  # noqa: E402
from bench.submit import Issuer, seed, sign_documents  # noqa: E402

MAX_JWS = 1 << 20
ORIGIN = "bench.example/log"


def statement_cost(factory: sessionmaker[Session], runs: int) -> float:
    """The baseline: CPU seconds of one ``SELECT 1`` round trip in an open transaction."""
    samples = []
    for session in session_scope(factory, read_only=True):
        connection = session.connection()
        for _ in range(runs):
            start = time.process_time()
            for _ in range(50):
                connection.execute(text("SELECT 1")).scalar_one()
            samples.append((time.process_time() - start) / 50)
    return statistics.median(samples)


async def batch_costs(
    factory: sessionmaker[Session], issuers: list[Issuer], sizes: list[int], runs: int
) -> dict[int, tuple[float, float]]:
    """Median (CPU seconds, wall seconds) of one batch of each size."""
    integrator = Integrator(factory, note.Signer(ORIGIN, Ed25519PrivateKey.generate()), ORIGIN, interval_s=60)
    await asyncio.to_thread(integrator.bootstrap)
    out: dict[int, tuple[float, float]] = {}
    for size in sizes:
        # The window is long enough for all n to arrive; max_batch = n closes it as soon as they have.
        batcher = SubmissionBatcher(
            factory, integrator, keys=KeyCache(factory, ttl_s=3600), max_batch=size, wait_ms=200
        )
        await batcher.start()
        cpu, wall = [], []
        try:
            for run in range(runs + 1):  # the first run warms the key cache and the statements
                signed = [
                    SignedSubmission(
                        Principal(issuer.code, "state", "bench", frozenset({"submit"})), jws, MAX_JWS
                    )
                    for issuer, jws in sign_documents(issuers, size, f"b{size}r{run}")
                ]
                start_cpu, start_wall = time.process_time(), time.perf_counter()
                outcomes = await asyncio.gather(*(batcher.submit_signed(s) for s in signed))
                if run:
                    cpu.append(time.process_time() - start_cpu)
                    wall.append(time.perf_counter() - start_wall)
                if not all(o.created and o.receipt for o in outcomes):
                    raise RuntimeError("a benchmark submission was not accepted with a receipt")
        finally:
            await batcher.stop()
        out[size] = (statistics.median(cpu), statistics.median(wall))
    return out


def fit(points: dict[int, tuple[float, float]]) -> tuple[float, float]:
    """Least-squares ``cpu = fixed + per_document * n`` through the medians."""
    xs = list(points)
    ys = [points[x][0] for x in xs]
    slope, intercept = statistics.linear_regression(xs, ys)
    return intercept, slope


def configuration(label: str, url: str, sizes: list[int], runs: int) -> None:
    issuers = seed(url, 8)
    engine = make_engine(url, pool_size=4)
    try:
        factory = make_sessionmaker(engine)
        baseline = statement_cost(factory, runs)
        gc.collect()
        gc.freeze()  # as ``lnx serve`` does after startup
        points = asyncio.run(batch_costs(factory, issuers, sizes, runs))
    finally:
        gc.unfreeze()
        engine.dispose()
    fixed, per_document = fit(points)
    for size, (cpu, wall) in points.items():
        print(
            f"| {label} | {size} | {cpu * 1e3:.2f} | {cpu / size * 1e3:.3f} | {wall * 1e3:.1f} |",
            flush=True,
        )
    print(
        f"  {label}: fixed {fixed * 1e3:.2f} ms per batch (= {fixed / baseline:.0f} x a SELECT 1 round trip "
        f"of {baseline * 1e6:.0f} us), {per_document * 1e3:.3f} ms per document",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 16, 64])
    parser.add_argument("--runs", type=int, default=15, help="batches per size; medians are printed")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    print(f"lnx batch cost benchmark on {os.cpu_count()} CPUs, {args.runs} batches per size (medians)")
    print("| database | batch size | CPU ms per batch | CPU ms per document | wall ms per batch |")
    print("|---|---|---|---|---|")
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory(prefix="lnx-bench-batch-") as directory:
            configuration("SQLite", f"sqlite:///{directory}/lnx.db", args.sizes, args.runs)
    server_url = os.environ.get("LNX_BENCH_DATABASE_URL")
    if server_url:
        url, drop = postgres_database(server_url)
        try:
            configuration("PostgreSQL", url, args.sizes, args.runs)
        finally:
            drop()


if __name__ == "__main__":
    main()
