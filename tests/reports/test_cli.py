"""`lnx report compliance|upcoming` through typer's CliRunner against a real uvicorn server."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from app.cli.main import app as cli_app
from tests.conftest import REPO_ROOT
from tests.fixtures import Actor, Exchange, bootstrap_operator
from tests.reports.support import YEAR, Seeded, seed_year

STARTUP_TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(settings, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """``uvicorn app.main:create_app`` on the test database; stopped (and killed if need be) after."""
    port = _free_port()
    env = {
        **os.environ,
        "LNX_DATABASE_URL": settings.resolved_database_url,
        "LNX_DATA_DIR": str(tmp_path / "server-data"),
        "LNX_LOG_ORIGIN": "lnx.test/log",
        "LNX_ACCESS_LOG": "false",
        "PYTHONPATH": str(REPO_ROOT),
    }
    command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"uvicorn exited: {process.stderr.read().decode() if process.stderr else ''}"
                )
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not become healthy in time")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def live(server: str, settings) -> Iterator[tuple[str, Seeded]]:  # type: ignore[no-untyped-def]
    token = bootstrap_operator(settings)
    with httpx.Client(base_url=server, timeout=30) as client:
        exchange = Exchange(client=client, operator=Actor(code="ICC", role="operator", token=token))  # type: ignore[arg-type]
        yield server, seed_year(exchange)


def run_cli(url: str, token: str, *args: str) -> Result:
    # LNX_CONFIG: no profile of the machine running the tests may leak in.
    env = {"LNX_URL": url, "LNX_TOKEN": token, "LNX_CONFIG": "/nonexistent/lnx.toml", "LNX_PROFILE": ""}
    return CliRunner().invoke(cli_app, ["report", *args], env=env)


def invoke(url: str, actor: Actor, *args: str) -> str:
    result = run_cli(url, actor.token, *args)
    assert result.exit_code == 0, result.output
    return result.output


def test_compliance_json_table_and_errors(live: tuple[str, Seeded]) -> None:
    url, seeded = live
    printed = json.loads(invoke(url, seeded.ind, "compliance", "--json", "--year", str(YEAR)))
    served = seeded.client.get(
        "/v1/reports/compliance", params={"year": YEAR}, headers=seeded.ind.headers
    ).json()
    printed.pop("generated_at"), served.pop("generated_at")
    assert printed == served
    assert {(r["regime"], r["state"]) for r in printed["rows"]} >= {("hcoc", "IND"), ("hcoc", "BRA")}

    table = invoke(url, seeded.ind, "compliance", "--year", str(YEAR), "--regime", "hcoc")
    assert "Compliance" in table and "BRA" in table and "on-time" in table

    # Errors are one line and exit code 1 (one server start serves these checks too).
    result = run_cli(url, seeded.ind.token, "compliance", "--year", str(YEAR), "--regime", "nope")
    assert result.exit_code == 1 and "404" in result.output
    result = run_cli(url, "lnx_wrong", "upcoming")
    assert result.exit_code == 1 and "401" in result.output
    result = run_cli(url, seeded.ind.token, "upcoming", "--json", "--csv")
    assert result.exit_code == 1 and "exclude" in result.output


def test_upcoming_csv(live: tuple[str, Seeded]) -> None:
    url, seeded = live
    lines = list(csv.DictReader(io.StringIO(invoke(url, seeded.fra, "upcoming", "--csv", "--days", "30"))))
    assert [(line["section"], line["id"], line["status"]) for line in lines] == [
        ("overdue_post_launch", seeded.ids["N5"], "expired")
    ]
    assert "Overdue post-launch reports" in invoke(url, seeded.fra, "upcoming")
