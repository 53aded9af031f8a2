"""Two real server processes integrating one PostgreSQL log at once, and a kill -9 in the middle.

Writers sequence leaves straight into the database (as the submit path of any worker would)
while both servers' background integrators race. Afterwards every checkpoint must be the only
one of its size, have the root of exactly the first ``size`` leaves, and be consistent with the
one before it, by proofs that each server serves over HTTP.
"""

from __future__ import annotations

import base64
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
from lnx_client.core import merkle, note
from lnx_client.core.checkpoint import open_checkpoint
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.log import service
from app.log.models import LogCheckpoint
from tests.log.support import ORIGIN, append, leaf_datas

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One ``uvicorn app.main:create_app --factory`` process on 127.0.0.1."""

    def __init__(self, env: dict[str, str], log_dir: Path, name: str) -> None:
        self.env, self.log_dir, self.name = env, log_dir, name
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_dir / f"{self.name}-{time.time_ns()}.log", "wb")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
            + ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, (
                f"{self.name} exited: see {self.log_dir}"
            )
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not become ready")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, an integration in flight is cut off mid-transaction."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def checkpoint_size(self) -> int:
        return int(httpx.get(self.url + "/v1/log/checkpoint", timeout=5).text.split("\n")[1])


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[list[Server]]:
    env = {
        **os.environ,
        "LNX_DATABASE_URL": database_url,
        "LNX_DATA_DIR": str(tmp_path / "data"),
        "LNX_LOG_KEY_PATH": str(tmp_path / "data" / "log-key.txt"),
        "LNX_LOG_ORIGIN": ORIGIN,
        "LNX_INTEGRATE_INTERVAL_MS": "10",
        "LNX_ACCESS_LOG": "false",
        "LNX_RUN_WEBHOOK_WORKER": "false",
    }
    pair = [Server(env, tmp_path, "a"), Server(env, tmp_path, "b")]
    try:
        for server in pair:  # both start at once: they must also agree on one freshly made key
            server.start()
        for server in pair:
            server.wait_ready()
        yield pair
    finally:
        for server in pair:
            server.stop()


class Writers:
    """Threads sequencing small batches of leaves and committing, until told to stop."""

    def __init__(self, factory: sessionmaker[Session], threads: int = 4) -> None:
        self.factory = factory
        self.errors: list[BaseException] = []
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(threads)]

    def _run(self, n: int) -> None:
        rng = random.Random(n)
        serial = 0
        try:
            while not self.stop_event.is_set():
                count = rng.randint(1, 6)
                append(self.factory, leaf_datas(n * 1_000_000 + serial, count))
                serial += count
                time.sleep(rng.random() * 0.004)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)

    def __enter__(self) -> Writers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(30)


def _sequenced(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return service.tree_size(session) + service.pending_count(session)


def _wait_all_integrated(factory: sessionmaker[Session], servers: list[Server], timeout: float = 60) -> int:
    total = _sequenced(factory)
    deadline = time.monotonic() + timeout
    while any(s.checkpoint_size() < total for s in servers):
        assert time.monotonic() < deadline, "the servers did not integrate every leaf"
        time.sleep(0.05)
    return total


def _check_log(
    factory: sessionmaker[Session], servers: list[Server], log_key: note.Verifier
) -> list[LogCheckpoint]:
    """Every checkpoint: signed by the log key, the root of its prefix, consistent with the previous."""
    with factory() as session:
        records = list(session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size)))
        size = records[-1].size
        leaf_hashes = [e.leaf_hash for start in range(0, size, 1000) for e in service.entries(session, start)]
    assert len(leaf_hashes) == size
    assert len({r.size for r in records}) == len(records)
    assert records[0].size == 0
    frontier = merkle.CompactRange()
    for record in records:
        while frontier.size < record.size:
            frontier.append(leaf_hashes[frontier.size])
        assert frontier.root() == record.root_hash, f"checkpoint {record.size} has a foreign root"
        checkpoint, _ = open_checkpoint(record.note, [], origin=ORIGIN, required=[log_key])
        assert (checkpoint.size, checkpoint.root_hash) == (record.size, record.root_hash)
    with httpx.Client(timeout=10) as http:
        for n, (old, new) in enumerate(pairwise(records)):
            for server in servers if n % 5 == 0 else [servers[n % len(servers)]]:
                r = http.get(
                    server.url + "/v1/log/proof/consistency", params={"first": old.size, "second": new.size}
                )
                assert r.status_code == 200, r.text
                hashes = [base64.b64decode(h) for h in r.json()["hashes"]]
                merkle.verify_consistency(old.size, new.size, hashes, old.root_hash, new.root_hash)
    return records


def _log_key(server: Server) -> note.Verifier:
    return note.Verifier.from_vkey(httpx.get(server.url + "/v1/log/key", timeout=5).text)


def test_two_servers_integrating_at_once_never_fork(servers, factory):
    a, b = servers
    assert _log_key(a).vkey == _log_key(b).vkey
    with Writers(factory) as writers:
        time.sleep(4)
    assert not writers.errors, writers.errors
    total = _wait_all_integrated(factory, servers)
    assert total > 200
    records = _check_log(factory, servers, _log_key(a))
    assert len(records) > 10


def test_kill_9_mid_load_and_restart(servers, factory):
    a, b = servers
    log_key = _log_key(a)
    with Writers(factory) as writers:
        time.sleep(1.5)
        a.kill()
        with factory() as session:
            before = service.latest_checkpoint(session)
        time.sleep(1.0)
        a.start()
        a.wait_ready()
        time.sleep(1.5)
    assert not writers.errors, writers.errors
    total = _wait_all_integrated(factory, servers)
    assert total > before.size
    # Read the checkpoint first and ask for the proof to exactly its size: a straggling writer may
    # still add leaves, and the proof must be checked against the checkpoint it was made for.
    with factory() as session:
        after = service.latest_checkpoint(session)
    r = httpx.get(
        a.url + "/v1/log/proof/consistency", params={"first": before.size, "second": after.size}, timeout=5
    )
    assert r.status_code == 200, r.text
    hashes = [base64.b64decode(h) for h in r.json()["hashes"]]
    merkle.verify_consistency(before.size, after.size, hashes, before.root_hash, after.root_hash)
    _check_log(factory, servers, log_key)
