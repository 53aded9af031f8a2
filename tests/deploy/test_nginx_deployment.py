"""The deployment of ``deploy/`` run for real, without Docker: PostgreSQL, two ``lnx serve``, the webhook
worker and Debian's nginx terminating TLS with the shipped ``deploy/nginx/lnx.conf``.

Everything goes through nginx over HTTPS as a client would: participants, submissions, reads, the
long poll, the SSE stream, a webhook to a local receiver. The last test kills one server with
SIGKILL in the middle of a submission load and checks that nothing accepted is lost: every
submission answered 201 (or 200 on a retry) is readable afterwards, is covered by the signed
checkpoint with a verifying inclusion proof, and ``lnx db check`` finds the log whole.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import ssl
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from lnx_client.core import merkle, webhooks
from lnx_client.core.checkpoint import open_checkpoint
from lnx_client.core.entry import entry_leaf_hash
from lnx_client.core.note import Verifier

from tests.conftest import PG_URL, _Postgres
from tests.deploy.support import (
    REPO,
    Process,
    free_port,
    lnx,
    nginx_binary,
    render_site,
    self_signed_certificate,
    start_nginx,
    write_nginx_main,
)
from tests.documents.builders import pre_launch, sign
from tests.fixtures import Actor, Exchange

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow, pytest.mark.timeout(600)]

ORIGIN = "lnx.deploy.test/log"


def _ensure_nginx() -> str:
    binary = nginx_binary()
    if binary is None and os.geteuid() == 0 and (REPO / ".ci" / "system-deps").exists():
        subprocess.run([str(REPO / ".ci" / "system-deps")], capture_output=True, timeout=600, check=False)
        binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed and could not be installed (run .ci/system-deps as root)")
    return binary


@dataclass
class Deployment:
    tmp: Path
    env: dict[str, str]
    database_url: str
    https: str
    ssl_context: ssl.SSLContext
    servers: list[Process]
    worker: Process | None
    nginx: Process
    exchange: Exchange
    processes: list[Process]
    figures: dict[str, Any] = field(default_factory=dict)

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.https, verify=self.ssl_context, timeout=timeout)

    def start_server(self, index: int) -> Process:
        port = int(self.servers[index].extra["port"])
        process = _server(self.tmp, self.env, index + 1, port).start()
        self.processes.append(process)  # stopped by the fixture's finally block
        process.wait_http(f"http://127.0.0.1:{port}/readyz")
        self.servers[index] = process
        return process


def _server(tmp: Path, env: dict[str, str], number: int, port: int) -> Process:
    argv = [
        *_python_lnx(),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--limit-concurrency",
        "1000",
    ]
    process = Process(f"web{number}", argv, env, tmp / f"web{number}.log")
    process.extra["port"] = port
    return process


def _python_lnx() -> list[str]:
    import sys

    return [sys.executable, "-m", "app.cli.main"]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    binary = _ensure_nginx()
    assert PG_URL is not None
    tmp = tmp_path_factory.mktemp("deployment")
    pg = _Postgres(PG_URL)
    name = f"lnx_deploy_{uuid.uuid4().hex[:10]}"
    database_url = pg.create(name)
    has_worker = lnx("worker", "--help", env=dict(os.environ)).returncode == 0
    env = {
        **os.environ,
        "LNX_DATABASE_URL": database_url,
        "LNX_DATA_DIR": str(tmp / "data"),
        "LNX_LOG_KEY_PATH": str(tmp / "keys" / "log-key.txt"),
        "LNX_LOG_ORIGIN": ORIGIN,
        "LNX_WEBHOOK_ALLOW_PRIVATE": "true",
        "LNX_WEBHOOK_SCHEDULE_S": "[1, 2, 5]",
        "LNX_RUN_WEBHOOK_WORKER": "false" if has_worker else "true",
        "LNX_RATE_LIMIT_PER_MINUTE": "0",
        "LNX_LOG_LEVEL": "WARNING",
    }
    processes: list[Process] = []
    try:
        # The operator's steps, in order: migrate, start the servers and the worker, then the proxy.
        done = lnx("db", "upgrade", env=env)
        assert done.returncode == 0, done.stderr
        servers = [_server(tmp, env, n, free_port()).start() for n in (1, 2)]
        processes += servers
        for server in servers:
            server.wait_http(f"http://127.0.0.1:{server.extra['port']}/readyz")
        worker = None
        if has_worker:
            worker = Process("worker", [*_python_lnx(), "worker"], env, tmp / "worker.log").start()
            processes.append(worker)
        cert, key = self_signed_certificate(tmp)
        https_port = free_port()
        site = render_site(
            [f"127.0.0.1:{s.extra['port']}" for s in servers], https_port, free_port(), cert, key
        )
        nginx = start_nginx(binary, tmp / "nginx", write_nginx_main(tmp / "nginx", site))
        processes.append(nginx)
        context = ssl.create_default_context(cafile=str(cert))
        https = f"https://127.0.0.1:{https_port}"
        nginx.wait_http(f"{https}/readyz", verify=context)

        assert (
            lnx(
                "admin", "participant", "add", "ICC", "--name", "Operator", "--role", "operator", env=env
            ).returncode
            == 0
        )
        issued = lnx("admin", "token", "issue", "ICC", "--scope", "read,submit,admin", "--json", env=env)
        assert issued.returncode == 0, issued.stderr
        operator = Actor("ICC", "operator", json.loads(issued.stdout)["token"])
        client = httpx.Client(base_url=https, verify=context, timeout=30)
        exchange = Exchange(client=client, operator=operator)  # type: ignore[arg-type]
        exchange.add("IND", regimes=("hcoc",))
        exchange.add("FRA", regimes=("hcoc",))
        deployment = Deployment(
            tmp, env, database_url, https, context, servers, worker, nginx, exchange, processes
        )
        yield deployment
        client.close()
        if deployment.figures:
            print("\ndeployment figures:", json.dumps(deployment.figures, indent=2))
    finally:
        for process in reversed(processes):
            process.stop()
        try:
            pg.drop(name)
        finally:
            pg.admin.dispose()


def _submit(client: httpx.Client, actor: Actor, jws: str) -> httpx.Response:
    return client.post(
        "/v1/documents", content=jws, headers={**actor.headers, "content-type": "application/jose"}
    )


def test_submissions_and_reads_through_tls(deployment: Deployment) -> None:
    ex = deployment.exchange
    ind, fra = ex.actors["IND"], ex.actors["FRA"]
    client = ex.client
    receipts = []
    for _ in range(5):
        jws = sign(ind, pre_launch("IND"))
        response = _submit(client, ind, jws)  # type: ignore[arg-type]
        assert response.status_code == 201, response.text
        assert response.headers["x-request-id"]
        receipts.append((jws, response.json()))
    for jws, receipt in receipts:
        doc = client.get(f"/v1/documents/{receipt['id']}", headers=fra.headers)
        assert doc.status_code == 200 and doc.json()["jws"] == jws
        raw = client.get(
            f"/v1/documents/{receipt['id']}", headers={**fra.headers, "accept": "application/jose"}
        )
        assert raw.text == jws
        assert receipt["proof"].startswith("c2sp.org/tlog-proof@v1")
    listed = client.get("/v1/documents", params={"issuer": "IND"}, headers=fra.headers)
    assert {d["id"] for d in listed.json()["documents"]} >= {r["id"] for _, r in receipts}
    # The proxy's own refusals are problems too; /metrics is not served through it.
    too_big = client.post("/v1/documents", content=b"x" * (256 * 1024 + 1), headers=ind.headers)
    assert too_big.status_code == 413
    assert too_big.json()["type"] == "urn:lnx:problem:payload-too-large"
    assert client.get("/metrics").status_code == 404
    # Each server is scraped directly on its private address.
    port = deployment.servers[0].extra["port"]
    scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'lnx_documents_accepted_total{type="pre-launch"}' in scraped


def test_long_poll_through_the_proxy(deployment: Deployment) -> None:
    ex = deployment.exchange
    ind, fra = ex.actors["IND"], ex.actors["FRA"]
    head = ex.client.get("/v1/feed", params={"after": "latest"}, headers=fra.headers)
    if head.status_code == 404:
        pytest.skip("the feed (/v1/feed) is not part of this build yet")
    assert head.status_code == 200, head.text
    cursor = head.json()["next"]
    results: queue.Queue[tuple[float, httpx.Response]] = queue.Queue()

    def poll() -> None:
        with deployment.client(timeout=60) as client:
            started = time.monotonic()
            response = client.get("/v1/feed", params={"after": cursor, "wait": 20}, headers=fra.headers)
            results.put((time.monotonic() - started, response))

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(1.0)
    payload = pre_launch("IND")
    assert _submit(ex.client, ind, sign(ind, payload)).status_code == 201  # type: ignore[arg-type]
    thread.join(timeout=40)
    waited, response = results.get_nowait()
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    assert [e["subject"] for e in events] == [payload["id"]]
    assert events[0]["type"] == "org.lnx.document.pre-launch.v1"
    assert 0.9 < waited < 10  # held, then answered when the event arrived (not at the 20 s end)
    deployment.figures["long_poll_answer_s"] = round(waited - 1.0, 3)


def test_sse_stream_through_the_proxy(deployment: Deployment) -> None:
    ex = deployment.exchange
    ind, fra = ex.actors["IND"], ex.actors["FRA"]
    payload = pre_launch("IND")
    lines: queue.Queue[str] = queue.Queue()
    opened = threading.Event()
    status: list[int] = []

    def listen() -> None:
        with deployment.client(timeout=30) as client:
            with client.stream(
                "GET",
                "/v1/stream",
                params={"after": "latest"},
                headers={**fra.headers, "accept": "text/event-stream"},
            ) as response:
                status.append(response.status_code)
                opened.set()
                if response.status_code != 200:
                    return
                for line in response.iter_lines():
                    lines.put(line)
                    if payload["id"] in line:
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert opened.wait(15)
    if status == [404]:
        pytest.skip("the SSE stream (/v1/stream) is not part of this build yet")
    assert status == [200]
    time.sleep(0.5)
    sent = time.monotonic()
    assert _submit(ex.client, ind, sign(ind, payload)).status_code == 201  # type: ignore[arg-type]
    received: list[str] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        received.append(line)
        if payload["id"] in line:
            break
    else:
        raise AssertionError(f"the event did not come through nginx within 10 s: {received}")
    deployment.figures["sse_event_latency_s"] = round(time.monotonic() - sent, 3)
    assert any(line.startswith("id:") for line in received)
    thread.join(timeout=5)


class _Receiver(BaseHTTPRequestHandler):
    deliveries: queue.Queue[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:  # noqa: N802 - the http.server interface
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.deliveries.put(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_webhook_delivered_by_the_worker(deployment: Deployment) -> None:
    ex = deployment.exchange
    ind, fra = ex.actors["IND"], ex.actors["FRA"]
    handler = type("Receiver", (_Receiver,), {"deliveries": queue.Queue()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        created = ex.client.post(
            "/v1/subscriptions", json={"url": url, "issuers": ["IND"]}, headers=fra.headers
        )
        if created.status_code == 404:
            pytest.skip("webhook subscriptions (/v1/subscriptions) are not part of this build yet")
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        if deployment.worker is None:
            print("NOTE: `lnx worker` is missing; the servers deliver webhooks themselves")
        payload = pre_launch("IND")
        sent = time.monotonic()
        assert _submit(ex.client, ind, sign(ind, payload)).status_code == 201  # type: ignore[arg-type]
        headers, body = handler.deliveries.get(timeout=30)
        deployment.figures["webhook_delivery_s"] = round(time.monotonic() - sent, 3)
        webhooks.verify(secret, headers, body)
        event = json.loads(body)
        assert event["subject"] == payload["id"] and event["type"] == "org.lnx.document.pre-launch.v1"
    finally:
        server.shutdown()
        server.server_close()


def _latest_checkpoint(client: httpx.Client) -> tuple[int, bytes]:
    vkey = client.get("/v1/log/key").text.strip()
    checkpoint, _ = open_checkpoint(
        client.get("/v1/log/checkpoint").text, [], required=[Verifier.from_vkey(vkey)]
    )
    assert checkpoint.origin == ORIGIN
    return checkpoint.size, checkpoint.root_hash


def test_killing_a_server_mid_load_loses_nothing_accepted(deployment: Deployment) -> None:
    ex = deployment.exchange
    ind = ex.actors["IND"]
    threads, per_thread = 8, 40
    accepted: dict[str, tuple[str, dict[str, Any]]] = {}
    latencies: list[float] = []
    failures: list[int | str] = []
    lock = threading.Lock()
    progress = threading.Semaphore(0)
    given_up: list[str] = []

    def load(n: int) -> None:
        with deployment.client(timeout=30) as client:
            for _ in range(per_thread):
                payload = pre_launch("IND")
                jws = sign(ind, payload)
                for _attempt in range(8):
                    started = time.monotonic()
                    try:
                        response = _submit(client, ind, jws)
                        code: int | str = response.status_code
                    except httpx.TransportError as exc:
                        code = type(exc).__name__
                    took = time.monotonic() - started
                    if code in (200, 201):
                        with lock:
                            accepted[payload["id"]] = (jws, response.json())
                            latencies.append(took)
                        progress.release()
                        break
                    with lock:
                        failures.append(code)
                    time.sleep(0.3)  # the same JWS again: resubmitting is idempotent
                else:
                    given_up.append(payload["id"])

    workers = [threading.Thread(target=load, args=(n,)) for n in range(threads)]
    started = time.monotonic()
    for w in workers:
        w.start()
    for _ in range(60):  # let the load run, then kill one server in the middle of it
        assert progress.acquire(timeout=60)
    before_kill = time.monotonic() - started
    victim = deployment.servers[0]
    victim.kill()  # SIGKILL: no graceful shutdown, requests in flight are cut
    killed_at = time.monotonic()
    for w in workers:
        w.join(timeout=300)
    finished = time.monotonic()
    elapsed = finished - started

    assert not given_up, f"submissions never accepted after retries: {given_up}"
    assert len(accepted) == threads * per_thread
    # Everything accepted is readable through the proxy (now served by the survivor alone)...
    client = ex.client
    fra = ex.actors["FRA"]
    size, root = _latest_checkpoint(client)  # type: ignore[arg-type]
    for doc_id, (jws, receipt) in accepted.items():
        doc = client.get(f"/v1/documents/{doc_id}", headers=fra.headers)
        assert doc.status_code == 200, (doc_id, doc.text)
        assert doc.json()["jws"] == jws and doc.json()["log_index"] == receipt["log_index"]
        # ...and covered by the signed checkpoint, with an inclusion proof that verifies.
        assert receipt["log_index"] < size
        proof = client.get(
            "/v1/log/proof/inclusion", params={"index": receipt["log_index"], "size": size}
        ).json()
        leaf = entry_leaf_hash(jws, _parse_time(receipt["integrated_time"]))
        assert leaf.hex() == receipt["leaf_hash"]
        merkle.verify_inclusion(leaf, receipt["log_index"], size, [_b64(h) for h in proof["hashes"]], root)

    # The log in the database is whole: recomputed tree, checkpoints, signature, documents.
    check = lnx("db", "check", "--json", env=deployment.env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["ok"] is True

    # The killed server comes back and serves again.
    deployment.start_server(0)
    jws = sign(ind, pre_launch("IND"))
    assert _submit(client, ind, jws).status_code == 201  # type: ignore[arg-type]

    latencies.sort()
    deployment.figures.update(
        {
            "submissions": len(accepted),
            "client_threads": threads,
            "seconds": round(elapsed, 2),
            "submissions_per_s": round(len(accepted) / elapsed, 1),
            "seconds_before_kill": round(before_kill, 2),
            "seconds_after_kill": round(finished - killed_at, 2),
            "latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
            "failed_attempts_retried": len(failures),
            "failed_attempt_kinds": sorted({str(f) for f in failures}),
        }
    )


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
