"""``/readyz`` fails when the database is down or the log key is unavailable; an unusable key stops startup.

Decision (docs/operations.md): a key that cannot be loaded (unreadable, unsafe mode, malformed,
another name) makes the process **refuse to start**, so a bad deployment never takes traffic;
a running process whose database goes away, or which has no log key loaded, answers 503 on
``/readyz`` so the proxy and the orchestrator route around it until it recovers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db import make_engine
from app.log.signer import KeyFileError
from app.main import create_app

REPO = Path(__file__).resolve().parents[2]


def test_ready_when_database_schema_and_key_are_fine(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert checks["database"]["ok"] and checks["schema"]["ok"] and checks["log_key"]["ok"]


def test_not_ready_while_the_database_is_unreachable(client: TestClient) -> None:
    app = client.app
    healthy = app.state.engine  # type: ignore[attr-defined]
    down = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2", pool_size=1)
    app.state.engine = down  # type: ignore[attr-defined]
    try:
        response = client.get("/readyz")
    finally:
        app.state.engine = healthy  # type: ignore[attr-defined]
        down.dispose()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not-ready"
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert client.get("/readyz").status_code == 200  # and ready again once it is back


@pytest.mark.postgres_only
def test_not_ready_while_postgres_refuses_connections(client: TestClient, settings: Settings) -> None:
    url = make_url(settings.resolved_database_url)
    name = url.database
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
        response = client.get("/readyz")
        assert response.status_code == 503, response.text
        assert response.json()["checks"]["database"]["ok"] is False
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()
    # Ready again without a restart, once the log integrator's next run has succeeded too.
    deadline = time.monotonic() + 20
    while (response := client.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, response.text
        time.sleep(0.1)


def test_not_ready_without_a_loaded_log_key(client: TestClient) -> None:
    probes = client.app.state.readiness_probes  # type: ignore[attr-defined]
    original = probes.pop("log_key")
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["log_key"] == {"ok": False, "error": "not loaded"}
        probes["log_key"] = lambda: {"ok": False, "error": "KeyFileError"}
        assert client.get("/readyz").status_code == 503
    finally:
        probes["log_key"] = original
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize("problem", ["group-readable", "malformed", "a directory", "another name"])
def test_startup_refuses_an_unusable_log_key(settings: Settings, tmp_path: Path, problem: str) -> None:
    key = tmp_path / "log-key.txt"
    if problem == "a directory":
        key.mkdir()
    else:
        from lnx_client.core import note

        name = "someone.else/log" if problem == "another name" else settings.log_origin
        key.write_text("PRIVATE+KEY+garbage\n" if problem == "malformed" else note.generate_signer(name)[0])
        key.chmod(0o644 if problem == "group-readable" else 0o600)
    app = create_app(settings.model_copy(update={"log_key_path": key}))
    with pytest.raises((KeyFileError, IsADirectoryError)):
        with TestClient(app):
            pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_lnx_serve_exits_with_an_unusable_log_key(settings: Settings, tmp_path: Path) -> None:
    key = tmp_path / "log-key.txt"
    from lnx_client.core import note

    key.write_text(note.generate_signer(settings.log_origin)[0])
    key.chmod(0o640)
    env = {
        **os.environ,
        "LNX_DATABASE_URL": settings.resolved_database_url,
        "LNX_DATA_DIR": str(settings.data_dir),
        "LNX_LOG_ORIGIN": settings.log_origin,
        "LNX_LOG_KEY_PATH": str(key),
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "serve", "--port", str(_free_port())],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "chmod 600" in done.stderr + done.stdout
    assert time.monotonic() - started < 60
