"""Benchmark of ``lnx audit`` (lnx_client.audit.run_audit) on a large log; not a test.

1. Builds an exchange of N documents (default 100,000) in a fresh SQLite (or ``--database-url``)
   database: documents are signed in-process and stored through the service layer exactly as the
   submission path stores them (``intake.take_in`` -> ``service.accept``, 1,000 per transaction,
   then ``log.service.integrate``), so the log, tiles and documents are the real thing.
2. Starts ``lnx serve`` on 127.0.0.1 and runs the full audit as an auditor entrusted with every
   document (all signatures checked on all cores), printing per-stage times.
3. Prints, measured in the same run, in ``--rounds`` rounds of ``--slice`` documents (medians;
   the two measures alternate which goes first, so that both see the same load): bare
   ``cryptography`` Ed25519 verifications per second of the documents' own signing inputs on all
   cores (the bound; on one core too), and the audit's signature checks per second (strict parse
   and payload comparison in the main process, transfer, key checks and verification in the
   workers) against it; and both in CPU time per signature, which a loaded machine disturbs less.
4. Recomputes the root of a 1,000,000-leaf tree from leaf data (target <= 3 s).

Usage: .venv/bin/python bench/audit.py [--documents N] [--leaves 1000000] [--workers W]
                                       [--rounds 10] [--slice 20000] [--database-url URL]
                                       [--keep DIR]

Building 100,000 documents through the service layer takes several minutes (it is the server's
submission path, ~300-700 documents/s here); ``--keep DIR`` keeps the exchange so that later runs
audit it again without rebuilding.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lnx_client import Client, build_pre_launch, circle_area, sign_document, vehicle  # noqa: E402
from lnx_client import _endpoints as api  # noqa: E402
from lnx_client._signature_pool import SignatureChecks, pool_context  # noqa: E402
from lnx_client._tree import root_and_tile_levels  # noqa: E402
from lnx_client.audit import run_audit  # noqa: E402
from lnx_client.core import merkle  # noqa: E402
from lnx_client.core.entry import entry_bytes  # noqa: E402
from lnx_client.core.jwk import generate_private_jwk, public_jwk_from_private  # noqa: E402

from app import migrate  # noqa: E402
from app.auth import service as auth_service  # noqa: E402
from app.auth.service import Principal  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import make_engine, make_sessionmaker, session_scope  # noqa: E402
from app.documents import intake as intake_module  # noqa: E402
from app.documents import service as documents_service  # noqa: E402
from app.log import service as log_service  # noqa: E402
from app.log.signer import load_or_create_signer  # noqa: E402
from app.participants import service as participants_service  # noqa: E402
from app.participants.schemas import ParticipantCreate  # noqa: E402
from app.regimes import service as regimes_service  # noqa: E402

ORIGIN = "lnx.bench/log"
ISSUERS = ("IND", "PAK", "CHN", "RUS", "USA", "FRA", "GBR", "BRA", "JPN", "KOR")
BATCH = 1000


# ---------------------------------------------------------------- building the exchange


def _sign_range(args: tuple[int, int, dict[str, dict[str, str]], str]) -> list[tuple[str, str]]:
    """Sign documents ``[start, stop)`` (runs in a worker process)."""
    start, stop, keys, window = args
    window_start = datetime.fromisoformat(window)
    out = []
    for n in range(start, stop):
        issuer = ISSUERS[n % len(ISSUERS)]
        payload = build_pre_launch(
            id=f"{issuer}-2027-{n:07d}",
            issuer=issuer,
            regime="hcoc",
            vehicle=vehicle("space-launch-vehicle", "SLV"),
            window_start=window_start,
            window_end=window_start + timedelta(days=2),
            launch_area=circle_area(80.23, 13.72, 5, "Sriharikota"),
            azimuth_deg=135,
            impact_areas=[circle_area(86.0, 8.0, 50)],
        )
        out.append((issuer, sign_document(payload, keys[issuer])))
    return out


def build_exchange(settings: Settings, documents: int, workers: int) -> tuple[str, float, float]:
    """Populate the database; returns the auditor's token, the signing and the storing seconds."""
    url = settings.resolved_database_url
    migrate.upgrade(url)
    engine = make_engine(url, pool_size=2)
    factory = make_sessionmaker(engine)
    keys = {code: generate_private_jwk("Ed25519") for code in ISSUERS}
    principals = {}
    for session in session_scope(factory):
        regimes_service.ensure_shipped_regimes(session)
        for code in (*ISSUERS, "AUDITOR"):
            role = "auditor" if code == "AUDITOR" else "state"
            participants_service.add_participant(session, ParticipantCreate(code=code, name=code, role=role))
        for code in ISSUERS:
            participants_service.register_key(
                session,
                code,
                public_jwk_from_private(keys[code]),
                not_before=datetime.now(UTC) - timedelta(days=1),
            )
            regimes_service.join(session, "hcoc", code)
            issued = auth_service.issue_token(session, code, "read,submit")
            principals[code] = Principal(code, "state", issued.record.id, frozenset({"read", "submit"}))
        regimes_service.add_auditor(session, "hcoc", "AUDITOR")
        auditor_token = auth_service.issue_token(session, "AUDITOR", "read").token

    started = time.perf_counter()
    window = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0).isoformat()
    step = max(1, min(5000, documents // (workers * 4) or 1))
    ranges = [(i, min(i + step, documents), keys, window) for i in range(0, documents, step)]
    with ProcessPoolExecutor(workers) as pool:
        signed = [item for chunk in pool.map(_sign_range, ranges) for item in chunk]
    sign_s = time.perf_counter() - started

    signer = load_or_create_signer(settings)
    started = time.perf_counter()
    for offset in range(0, len(signed), BATCH):
        now = datetime.now(UTC)
        for session in session_scope(factory):
            for issuer, jws in signed[offset : offset + BATCH]:
                intake = intake_module.take_in(session, principals[issuer], jws, max_size=256 * 1024, now=now)
                documents_service.accept(session, intake, now)
            log_service.integrate(session, signer, ORIGIN)
        done = offset + BATCH
        if done % 10_000 == 0 or done >= len(signed):
            print(f"  stored {min(done, len(signed)):,} documents", file=sys.stderr, flush=True)
    store_s = time.perf_counter() - started
    engine.dispose()
    return auditor_token, sign_s, store_s


# ---------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LNX_DATABASE_URL": settings.resolved_database_url,
        "LNX_DATA_DIR": str(settings.data_dir),
        "LNX_LOG_ORIGIN": ORIGIN,
        "LNX_RATE_LIMIT_PER_MINUTE": "0",
        "LNX_ACCESS_LOG": "false",
        "LNX_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "app.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    with Client(f"http://127.0.0.1:{port}") as client:
        while True:
            try:
                client.log_key()
                return process
            except Exception:  # noqa: BLE001 - not up yet
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("lnx serve did not start") from None
                time.sleep(0.2)


# ---------------------------------------------------------------- baselines

_SAMPLES: list[tuple[Any, bytes, bytes]] = []


def _load_samples(samples: list[tuple[bytes, bytes, bytes]]) -> None:
    """Pool initializer: the (public key, signature, signing input) triples to verify, keys built once."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys: dict[bytes, Any] = {}
    _SAMPLES[:] = [
        (keys.setdefault(x, Ed25519PublicKey.from_public_bytes(x)), signature, message)
        for x, signature, message in samples
    ]


def _raw_verify(n: int) -> float:
    """``n`` bare ``cryptography`` Ed25519 verifications over the samples, cycling."""
    samples, count = _SAMPLES, len(_SAMPLES)
    start = time.perf_counter()
    for i in range(n):
        key, signature, message = samples[i % count]
        key.verify(signature, message)
    return time.perf_counter() - start


def verify_samples(
    documents: list[dict[str, Any]], jwks: dict[str, Any], count: int = 2000
) -> list[tuple[bytes, bytes, bytes]]:
    """The raw baseline's work: real documents' (issuer key, signature, signing input), so the
    messages have the audited documents' sizes and keys."""
    from lnx_client.core.jwk import b64url_decode

    xs = {code: b64url_decode(snapshot["keys"][0]["x"]) for code, snapshot in jwks.items()}
    step = max(1, len(documents) // count)
    out = []
    for doc in documents[::step][:count]:
        signing_input, _, signature = doc["jws"].rpartition(".")
        out.append((xs[doc["issuer"]], b64url_decode(signature), signing_input.encode("ascii")))
    return out


def raw_one_core(samples: list[tuple[bytes, bytes, bytes]], n: int) -> float:
    """Bare Ed25519 verifications per second in this process."""
    _load_samples(samples)
    return n / _raw_verify(n)


def raw_all_cores(pool: ProcessPoolExecutor, workers: int, n: int) -> float:
    """Bare Ed25519 verifications per second on ``workers`` processes together, ``n`` in all."""
    start = time.perf_counter()
    list(pool.map(_raw_verify, [n // workers] * workers))
    return (n // workers) * workers / (time.perf_counter() - start)


def cpu_seconds(pool: ProcessPoolExecutor) -> float:
    """CPU seconds used so far by this process and ``pool``'s workers (Linux ``/proc``)."""
    ticks = 0
    for pid in list(pool._processes or {}):  # noqa: SLF001 - a benchmark's look at its own pool
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return time.process_time() + ticks / os.sysconf("SC_CLK_TCK")


def list_all(client: Client) -> list[dict[str, Any]]:
    """Every document through the list endpoint, as raw JSON (what the audit reads)."""
    documents: list[dict[str, Any]] = []
    token = None
    while True:
        call = dataclasses.replace(
            api.list_documents(page_size=1000, page_token=token), parse=lambda r: r.json()
        )
        page = client.request(call)
        documents.extend(page["documents"])
        token = page["next_page_token"]
        if not token:
            return documents


def signature_checks(
    documents: list[dict[str, Any]], jwks: dict[str, Any], workers: int, pool: ProcessPoolExecutor
) -> float:
    """Seconds for the audit's signature checks alone: the strict JWS parse and the payload
    comparisons in this process, moving the chunks, key checks and verification in the workers.

    ``pool`` was started before the documents were read, as the audit's is (at its first chunk):
    forked afterwards, the workers would share the 100,000 documents' memory pages with this
    process, which would then copy each page it touches (not what ``lnx audit`` pays)."""
    start = time.perf_counter()
    checks = SignatureChecks(workers, threshold=0 if workers > 1 else 10**9, pool=pool)
    for d in documents:
        checks.add(d["log_index"], d, d["integrated_time"], jwks[d["issuer"]])
    verified = 0
    for count, failures in checks.results(None):
        assert not failures, failures[:3]
        verified += count
    assert verified == len(documents)
    return time.perf_counter() - start


def root_of_a_million(leaves: int) -> tuple[float, float, float]:
    """Seconds for: leaf hashes from leaf data, the audit's root (with tile levels), the core's root."""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    datas = [entry_bytes(hashlib.sha256(i.to_bytes(8, "big")).hexdigest(), when) for i in range(leaves)]
    start = time.perf_counter()
    hashes = [merkle.leaf_hash(d) for d in datas]
    leaf_s = time.perf_counter() - start
    start = time.perf_counter()
    root, _ = root_and_tile_levels(hashes)
    audit_s = time.perf_counter() - start
    start = time.perf_counter()
    assert merkle.root_from_leaf_hashes(hashes) == root
    core_s = time.perf_counter() - start
    return leaf_s, audit_s, core_s


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--rounds", type=int, default=10, help="rounds of raw verify + signature checks (medians)"
    )
    parser.add_argument(
        "--slice",
        type=int,
        default=20_000,
        help="documents per round (the rounds take the documents in turn)",
    )
    parser.add_argument(
        "--database-url", default=None, help="default: a SQLite file in a temporary directory"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep the exchange in this directory (and reuse it if it is there)",
    )
    args = parser.parse_args()

    directory = args.keep or Path(tempfile.mkdtemp(prefix="lnx-bench-audit-"))
    directory.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=directory, database_url=args.database_url, log_origin=ORIGIN)
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, load average "
        f"{os.getloadavg()[0]:.1f}; database {settings.resolved_database_url}"
    )
    saved = directory / "bench.json"
    if saved.exists():  # --keep DIR of an earlier run: audit the same exchange again
        token = json.loads(saved.read_text())["auditor_token"]
        print(f"reusing the exchange in {directory}")
    else:
        print(f"building an exchange of {args.documents:,} documents ...", flush=True)
        token, sign_s, store_s = build_exchange(settings, args.documents, args.workers)
        saved.write_text(json.dumps({"auditor_token": token, "documents": args.documents}))
        print(
            f"  signed in {sign_s:.1f} s ({args.documents / sign_s:,.0f}/s), "
            f"stored in {store_s:.1f} s ({args.documents / store_s:,.0f}/s)"
        )

    port = free_port()
    server = serve(settings, port)
    try:
        with Client(f"http://127.0.0.1:{port}", token, timeout=120) as client:
            log_key = client.log_key()
            report = run_audit(
                client, log_key=log_key, workers=args.workers, state_path=directory / "audit-state.json"
            )
            # The signature checks' workers, started before the documents are read (see signature_checks).
            checks_pool = ProcessPoolExecutor(args.workers, mp_context=pool_context())
            checks_pool.submit(int).result()
            start = time.perf_counter()
            documents = list_all(client)
            list_s = time.perf_counter() - start
            jwks = {code: client.get_jwks(code).model_dump(mode="json") for code in ISSUERS}
            server.terminate()  # the signature checks alone, without the server competing for the cores
            server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)
    assert report.ok, report.failures[:5]
    print(
        f"audit of {report.tree_size:,} entries / {report.documents_full:,} documents / "
        f"{report.signatures_verified:,} signatures: {report.seconds['total']:.1f} s total "
        f"({report.signatures_verified / report.seconds['total']:,.0f} documents/s end to end)"
    )
    for stage in ("checkpoint", "entries", "root", "documents"):
        print(f"  {stage:<11} {report.seconds[stage]:7.2f} s")
    print(
        f"  (listing the documents alone: {list_s:.1f} s = {len(documents) / list_s:,.0f}/s from the server)"
    )

    samples = verify_samples(documents, jwks)
    sizes = sorted(len(message) for _, _, message in samples)
    one = statistics.median(raw_one_core(samples, 10_000) for _ in range(3))
    size = min(args.slice, len(documents))
    print(
        f"signature checks, {args.rounds} rounds of {size:,} documents (slices in turn over the "
        f"{len(documents):,}), each round: bare Ed25519 verify of as many of the documents' own signing "
        f"inputs (median {sizes[len(sizes) // 2]:,} bytes) and the audit's signature checks, both on "
        f"{args.workers} processes, in alternating order"
    )
    raws: list[float] = []
    audits: list[float] = []
    raw_cpu: list[float] = []
    audit_cpu: list[float] = []
    with ProcessPoolExecutor(args.workers, initializer=_load_samples, initargs=(samples,)) as raw_pool:
        list(raw_pool.map(_raw_verify, [100] * args.workers))  # start the workers first
        for n in range(args.rounds):
            start = (n * size) % len(documents)
            part = (documents[start:] + documents)[:size]

            def raw_round(part: list[dict[str, Any]] = part) -> None:
                cpu = cpu_seconds(raw_pool)
                raws.append(raw_all_cores(raw_pool, args.workers, len(part)))
                raw_cpu.append((cpu_seconds(raw_pool) - cpu) / len(part))

            def audit_round(part: list[dict[str, Any]] = part) -> None:
                cpu = cpu_seconds(checks_pool)
                audits.append(len(part) / signature_checks(part, jwks, args.workers, checks_pool))
                audit_cpu.append((cpu_seconds(checks_pool) - cpu) / len(part))

            for measure in (raw_round, audit_round) if n % 2 == 0 else (audit_round, raw_round):
                measure()
            print(
                f"  round {n + 1:2}: raw {raws[-1]:7,.0f}/s, audit {audits[-1]:7,.0f}/s ({audits[-1] / raws[-1]:4.0%}); "
                f"CPU per signature: raw {raw_cpu[-1] * 1e6:4.0f} us, audit {audit_cpu[-1] * 1e6:4.0f} us "
                f"({raw_cpu[-1] / audit_cpu[-1]:.0%}); load average {os.getloadavg()[0]:.1f}"
            )
    checks_pool.shutdown()
    raw, rate = statistics.median(raws), statistics.median(audits)
    ratios = [a / r for a, r in zip(audits, raws, strict=True)]
    quartiles = statistics.quantiles(ratios, n=4)
    print(
        f"raw cryptography Ed25519 verify: {one:,.0f}/s on 1 core; median {raw:,.0f}/s on {args.workers} processes"
    )
    print(
        f"audit signature checks (strict JWS parse, payload comparison, key validity, verify) on "
        f"{args.workers} processes: median {rate:,.0f}/s"
    )
    print(
        f"audit / raw all-core rate, paired by round: median {statistics.median(ratios):.0%} "
        f"(quartiles {quartiles[0]:.0%} - {quartiles[2]:.0%}); ratio of the two medians {rate / raw:.0%}"
    )
    print(
        f"CPU time per signature (this process and its workers): raw {statistics.median(raw_cpu) * 1e6:.0f} us, "
        f"audit {statistics.median(audit_cpu) * 1e6:.0f} us: the audit would reach "
        f"{statistics.median(raw_cpu) / statistics.median(audit_cpu):.0%} of the raw rate on otherwise idle cores"
    )

    leaf_s, audit_root_s, core_root_s = root_of_a_million(args.leaves)
    print(
        f"root of {args.leaves:,} leaves: leaf hashes {leaf_s:.2f} s + tree {audit_root_s:.2f} s "
        f"= {leaf_s + audit_root_s:.2f} s from leaf data (core root_from_leaf_hashes: {core_root_s:.2f} s)"
    )
    print(
        f"load average at the end: {os.getloadavg()[0]:.1f} (other processes share the cores: compare ratios)"
    )
    if args.keep is None:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
