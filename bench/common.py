"""What the benchmark scripts share: a throw-away PostgreSQL database and stopping a server."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

__all__ = ["postgres_database", "stop_process"]


def postgres_database(server_url: str) -> tuple[str, Callable[[], None]]:
    """A throw-away database on the server of ``server_url``; returns its URL and a dropper."""
    base = make_url(server_url)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"lnx_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful uvicorn shutdown), then SIGKILL if it takes more than 30 s."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
