"""``lnx db backup`` / ``lnx db restore``: consistent copies while serving, refusals, a checked restore."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app import migrate
from app.cli.main import app as cli
from app.config import Settings
from app.ops import backup
from tests.conftest import PG_URL, _Postgres
from tests.documents.builders import pre_launch, submit
from tests.fixtures import Exchange
from tests.ops.support import Populated, populate, run_check

runner = CliRunner()


def _sqlite_only(backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the SQLite online backup is tested on SQLite; PostgreSQL has its own tests below")


def _count(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def log(exchange: Exchange) -> Populated:
    return populate(exchange)


def test_sqlite_backup_while_serving_is_consistent(
    backend: str, exchange: Exchange, log: Populated, settings: Settings, tmp_path: Path
) -> None:
    _sqlite_only(backend)
    db = backup.sqlite_file(settings.resolved_database_url)
    assert db is not None
    ind = exchange.actors["IND"]
    stop = threading.Event()
    accepted: list[int] = []

    def writer() -> None:
        while not stop.is_set():
            response = submit(exchange.client, ind, pre_launch("IND"))
            accepted.append(response.status_code)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        copies = [backup.backup_sqlite(db, tmp_path / f"copy{i}.sqlite3") for i in range(3)]
    finally:
        stop.set()
        thread.join()
    assert accepted and set(accepted) == {201}
    for copy in copies:
        assert copy.path.stat().st_mode & 0o777 == 0o600
        assert copy.revision == migrate.head_revision()
        assert not Path(f"{copy.path}-wal").exists()  # one self-contained file
        # Each copy is one snapshot: a complete log, every entry with its document, signed.
        restored = Settings(
            database_url=f"sqlite:///{copy.path}", data_dir=settings.data_dir, log_origin=settings.log_origin
        )
        report = run_check(restored)
        assert report.ok, report.problems
        assert report.leaves == _count(copy.path, "documents") >= log.size


def test_restore_refuses_a_running_database_and_one_holding_data(
    backend: str, log: Populated, settings: Settings, tmp_path: Path
) -> None:
    _sqlite_only(backend)
    db = backup.sqlite_file(settings.resolved_database_url)
    assert db is not None
    copy = backup.backup_sqlite(db, tmp_path / "copy.sqlite3").path
    # The exchange fixture is serving this database right now.
    assert "an lnx server is serving it" in backup.sqlite_in_use(db)
    with pytest.raises(backup.DatabaseInUse, match="in use"):
        backup.restore_sqlite(copy, db)
    # Into a new place: no server, no data, no refusal.
    target = tmp_path / "new" / "lnx.sqlite3"
    result = backup.restore_sqlite(copy, target)
    assert result.revision == migrate.head_revision()
    assert _count(target, "log_leaves") == log.size
    # A second restore over it holds data now.
    with pytest.raises(backup.BackupError, match="already holds an exchange"):
        backup.restore_sqlite(copy, target)
    backup.restore_sqlite(copy, target, force=True)


def test_restore_refuses_garbage(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(backup.BackupError, match="not a SQLite database"):
        backup.restore_sqlite(junk, tmp_path / "lnx.sqlite3")
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()
    with pytest.raises(backup.BackupError, match="not an lnx database"):
        backup.restore_sqlite(empty, tmp_path / "lnx.sqlite3")


def test_a_server_does_not_start_during_a_restore(backend: str, settings: Settings) -> None:
    _sqlite_only(backend)
    db = backup.sqlite_file(settings.resolved_database_url)
    assert db is not None
    import fcntl
    import os

    fd = os.open(f"{db}.serving-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # what restore_sqlite holds while it copies
        with pytest.raises(backup.BackupError, match="restore .* in progress"):
            with backup.serving_lock(settings):
                pass
    finally:
        os.close(fd)


def test_backup_and_restore_commands_then_check(
    backend: str, log: Populated, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sqlite_only(backend)
    for name in ("LNX_DATABASE_URL", "LNX_DATA_DIR", "LNX_LOG_ORIGIN", "LNX_LOG_KEY_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LNX_LOG_ORIGIN", settings.log_origin)
    out = tmp_path / "backups" / "lnx.sqlite3"
    source = ["--database-url", settings.resolved_database_url, "--data-dir", str(settings.data_dir)]
    result = runner.invoke(
        cli, ["db", "backup", "--out", str(out), *source, "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert f'"out": "{out}"' in result.output

    result = runner.invoke(cli, ["db", "restore", str(out), *source], catch_exceptions=False)
    assert result.exit_code == 2 and "in use" in result.output

    # A new host: the data directory gets the log key from its offline copy, then the database.
    new_dir = tmp_path / "new-host"
    new_dir.mkdir()
    key = settings.resolved_log_key_path.read_bytes()
    (new_dir / "log-key.txt").write_bytes(key)
    (new_dir / "log-key.txt").chmod(0o600)
    monkeypatch.setenv("LNX_LOG_KEY_PATH", str(new_dir / "log-key.txt"))
    monkeypatch.delenv("LNX_DATABASE_URL")  # the commands above exported it, as the CLI does for workers
    result = runner.invoke(
        cli, ["db", "restore", str(out), "--data-dir", str(new_dir)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert f"log ok: {log.size} entries, {log.size} documents" in result.output


# ---------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres_only
def test_postgres_backup_restore_and_check(
    log: Populated, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert PG_URL is not None
    url = settings.resolved_database_url
    dump = backup.backup_postgres(url, tmp_path / "lnx.dump")
    assert dump.bytes > 0 and dump.path.stat().st_mode & 0o777 == 0o600

    # Restoring over the live database is refused: the serving exchange has sessions open.
    with pytest.raises(backup.DatabaseInUse, match="other session"):
        backup.restore_postgres(dump.path, url)

    pg = _Postgres(PG_URL)
    name = f"lnx_restore_{uuid.uuid4().hex[:10]}"
    target = pg.create(name)
    try:
        backup.restore_postgres(dump.path, target)
        restored = Settings(database_url=target, data_dir=settings.data_dir, log_origin=settings.log_origin)
        report = run_check(restored)
        assert report.ok, report.problems
        assert report.leaves == report.documents == log.size
        with pytest.raises(backup.BackupError, match="already holds an exchange"):
            backup.restore_postgres(dump.path, target)
        backup.restore_postgres(dump.path, target, force=True)
        assert run_check(restored).ok
    finally:
        pg.drop(name)
        pg.admin.dispose()


def test_libpq_target_keeps_the_password_out_of_the_arguments() -> None:
    target, env = backup.libpq_target("postgresql+psycopg://lnx:s3cret@db.example:5433/lnx?sslmode=require")
    assert target == "postgresql://lnx@db.example:5433/lnx?sslmode=require"
    assert env["PGPASSWORD"] == "s3cret"
