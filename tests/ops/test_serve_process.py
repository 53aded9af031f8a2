"""``lnx serve`` as a real process: multi-process metrics across uvicorn workers, connections spread
over the workers, a CPU per worker, the connection cap."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(settings: Settings, tmp_path: Path, *args: str, **env: str) -> Iterator[str]:
    """``lnx serve`` on a free port until the block ends; yields its base URL once it is ready."""
    port = _free_port()
    full_env = {
        **os.environ,
        "LNX_DATABASE_URL": settings.resolved_database_url,
        "LNX_DATA_DIR": str(settings.data_dir),
        "LNX_LOG_ORIGIN": settings.log_origin,
        "LNX_ACCESS_LOG": "false",
        "LNX_RUN_WEBHOOK_WORKER": "false",
        **env,
    }
    log = (tmp_path / f"serve-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "serve", "--port", str(port), *args],
        cwd=REPO,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / f"serve-{port}.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "lnx serve did not become ready"
            time.sleep(0.2)
        # Each worker listens on a socket of its own once it has started (app/serving.py), and
        # /readyz answers as soon as one has: wait for all, where /proc can tell.
        workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
        while workers > 1 and Path("/proc/net/tcp").exists() and len(_workers_of(port)) < workers:
            assert time.monotonic() < deadline, f"only {_workers_of(port)} of {workers} workers listen"
            time.sleep(0.2)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def _healthz_count(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "lnx_http_requests_total" and sample.labels.get("route") == "/healthz":
                return sample.value
    return 0.0


@pytest.mark.postgres_only
def test_metrics_are_summed_over_every_worker(settings: Settings, tmp_path: Path) -> None:
    prom = tmp_path / "prom"
    prom.mkdir()
    (prom / "counter_1.db").write_bytes(b"stale from a previous run")
    with serve(settings, tmp_path, "--workers", "2", PROMETHEUS_MULTIPROC_DIR=str(prom)) as url:
        for _ in range(60):
            assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200  # a new connection each
        # Whichever worker answers the scrape, it reports what both have counted.
        assert [_healthz_count(url) for _ in range(6)] == [60.0] * 6
        counter_files = list(prom.glob("counter_*.db"))
        assert len(counter_files) >= 2, counter_files  # both workers wrote their share
        assert not (prom / "counter_1.db").exists()  # serve emptied the directory at start


def _workers_of(port: int) -> list[int]:
    """The processes listening on ``port`` (with SO_REUSEPORT, each worker has its own socket)."""
    listening = {inode for inode, state in _tcp_sockets(port) if state == _LISTEN}
    return sorted(pid for pid, inodes in _socket_inodes().items() if inodes & listening)


_LISTEN, _ESTABLISHED = "0A", "01"


def _tcp_sockets(port: int) -> list[tuple[int, str]]:
    """(inode, state) of the IPv4 TCP sockets whose local port is ``port``, from /proc/net/tcp."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port:
            found.append((int(fields[9]), fields[3]))
    return found


def _socket_inodes() -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = [os.readlink(fd) for fd in (proc / "fd").iterdir()]
        except OSError:  # gone, or not ours
            continue
        out[int(proc.name)] = {int(link[8:-1]) for link in links if link.startswith("socket:[")}
    return out


@pytest.mark.postgres_only
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc")
def test_keep_alive_connections_opened_at_once_are_spread_over_the_workers(
    settings: Settings, tmp_path: Path
) -> None:
    """With one shared listening socket, whichever worker woke first took them: 32 to 0 was common."""
    with serve(settings, tmp_path, "--workers", "2") as url:
        port = int(url.rsplit(":", 1)[1])
        workers = _workers_of(port)
        assert len(workers) == 2, workers
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(32)]
        try:
            time.sleep(0.5)  # every worker accepts what the kernel queued for it
            established = {inode for inode, state in _tcp_sockets(port) if state == _ESTABLISHED}
            inodes = _socket_inodes()
            counts = [len(inodes[pid] & established) for pid in workers]
        finally:
            for client in clients:
                client.close()
    assert sum(counts) == 32
    # By a hash of each client's port: fewer than 4 of 32 on a worker happens about once in 60,000.
    assert min(counts) >= 4, counts


@pytest.mark.postgres_only
def test_a_port_in_use_is_refused_before_any_worker_starts(settings: Settings) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "app.cli.main", "serve", "--port", str(port), "--workers", "2"],
            cwd=REPO,
            env={
                **os.environ,
                "LNX_DATABASE_URL": settings.resolved_database_url,
                "LNX_DATA_DIR": str(settings.data_dir),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 3, result.stderr
    assert f"cannot bind 127.0.0.1:{port}" in result.stderr


def test_limit_concurrency_answers_503_beyond_the_cap(settings: Settings, tmp_path: Path) -> None:
    with serve(settings, tmp_path, "--limit-concurrency", "2") as url:
        port = int(url.rsplit(":", 1)[1])
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        try:
            time.sleep(0.3)
            assert httpx.get(f"{url}/healthz", timeout=5).status_code == 503
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.3)
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200


_TWO_CPUS = hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) >= 2


@pytest.mark.postgres_only
@pytest.mark.skipif(not (_TWO_CPUS and Path("/proc/net/tcp").exists()), reason="needs two CPUs and /proc")
def test_each_worker_runs_on_a_cpu_of_its_own_unless_told_not_to(settings: Settings, tmp_path: Path) -> None:
    """Pinned, a worker's event loop and commit thread stay on its CPU (app/serving.py says why)."""
    usable = sorted(os.sched_getaffinity(0))
    with serve(settings, tmp_path, "--workers", "2") as url:
        workers = _workers_of(int(url.rsplit(":", 1)[1]))
        pinned = [_affinity_of_every_thread(pid) for pid in workers]
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    assert len(pinned) == 2, workers
    assert all(len(cpus) == 1 for cpus in pinned), pinned  # every thread of a worker on one CPU
    assert pinned[0] != pinned[1] and pinned[0] | pinned[1] <= set(usable)
    with serve(settings, tmp_path, "--workers", "2", "--no-cpu-affinity") as url:
        workers = _workers_of(int(url.rsplit(":", 1)[1]))
        assert [_affinity_of_every_thread(pid) for pid in workers] == [set(usable)] * 2


def _affinity_of_every_thread(pid: int) -> set[int]:
    """The CPUs any thread of ``pid`` may run on."""
    cpus: set[int] = set()
    for thread in Path(f"/proc/{pid}/task").iterdir():
        cpus |= os.sched_getaffinity(int(thread.name))
    return cpus
