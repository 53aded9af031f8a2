"""Backups and restores of the exchange's database, and the local log check that follows a restore.

- **SQLite**: the sqlite3 online backup API copies the database in one step, i.e. from one read
  snapshot. In WAL mode a reader never blocks writers, so the copy is consistent while the
  exchange keeps serving. The copy is a single self-contained file (journal mode DELETE), mode 0600.
- **PostgreSQL**: ``pg_dump --format=custom`` (one repeatable-read snapshot, also consistent while
  serving) and ``pg_restore``; we run them when they are installed and explain them otherwise
  (``docs/deployment.md``).

A restore replaces the log. Restoring under a running exchange would leave its processes signing
checkpoints on top of a tree they no longer hold, and restoring an old copy of a live log rewinds
history that witnesses and auditors have already seen. So a restore refuses a database that is in
use (a server holds the serving lock, a write-ahead log is open, or PostgreSQL has other sessions)
or that already holds data, unless ``--force``; and it is followed by :func:`check_log`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lnx_client.core import note
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from app.config import Settings
from app.db import make_engine
from app.migrate import SchemaState, schema_state
from app.ops.logcheck import LogCheckReport, Problem, check_log

__all__ = [
    "BackupError",
    "DatabaseInUse",
    "BackupResult",
    "sqlite_file",
    "serving_lock",
    "sqlite_in_use",
    "backup_sqlite",
    "restore_sqlite",
    "libpq_target",
    "backup_postgres",
    "restore_postgres",
    "postgres_in_use",
    "PG_GUIDANCE",
    "verifier_for",
    "check_log",
    "LogCheckReport",
    "Problem",
]

PG_GUIDANCE = """PostgreSQL backups use the PostgreSQL tools (see docs/deployment.md, "Backups"):
  backup:  pg_dump --format=custom --no-owner --file lnx.dump "postgresql://USER@HOST:5432/DB"
  restore: stop every lnx process, then
           pg_restore --clean --if-exists --no-owner --exit-on-error --single-transaction \\
                      --dbname "postgresql://USER@HOST:5432/DB" lnx.dump
           lnx db check
"""


class BackupError(RuntimeError):
    """A backup or restore cannot be done; the message says why and what to do."""


class DatabaseInUse(BackupError):
    """The target database is in use; restoring over it needs ``--force`` (and stopped processes)."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    bytes: int
    seconds: float
    revision: str | None = None


# ---------------------------------------------------------------- SQLite


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; ``None`` for PostgreSQL or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".serving-lock")


@contextlib.contextmanager
def serving_lock(settings: Settings) -> Iterator[None]:
    """Held (shared) by every serving process of a SQLite database, so a restore can tell it is live.

    A BSD ``flock`` on a file beside the database: released by the kernel when the process dies,
    and independent of SQLite's own POSIX locks. A restore in progress holds it exclusively, and
    a server starting meanwhile refuses to start rather than open a half-written database.
    """
    db = sqlite_file(settings.resolved_database_url)
    if db is None:
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(_lock_path(db), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BackupError(f"a restore of {db} is in progress; start the exchange after it ends") from exc
        yield
    finally:
        os.close(fd)


def sqlite_in_use(db: Path) -> list[str]:
    """Why the SQLite database looks in use (empty list: nobody is using it)."""
    reasons = []
    lock = _lock_path(db)
    if lock.exists():
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            reasons.append("an lnx server is serving it")
        finally:
            os.close(fd)
    # SQLite removes the write-ahead log when the last connection closes; one left behind means
    # a process (the webhook worker, a CLI command, a crashed server) has or had it open.
    if Path(f"{db}-wal").exists():
        reasons.append("its write-ahead log is open (a process uses it, or one crashed)")
    return reasons


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return None if row is None else str(row[0])


def backup_sqlite(db: Path, out: Path) -> BackupResult:
    """Copy a (possibly live) SQLite database to ``out`` through the online backup API."""
    if not db.exists():
        raise BackupError(f"there is no database at {db}")
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))  # 0600 before any byte
    try:
        src = sqlite3.connect(db, timeout=30)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)  # pages=-1: one step, hence one consistent snapshot of the source
            dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file
            verdict = dst.execute("PRAGMA quick_check").fetchone()[0]
            revision = _revision(dst)
        finally:
            dst.close()
            src.close()
        if verdict != "ok":
            raise BackupError(f"the copy failed SQLite's quick_check: {verdict}")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, out)
        _fsync_dir(out.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return BackupResult(out, out.stat().st_size, time.perf_counter() - started, revision)


def _validate_sqlite_backup(backup: Path) -> str:
    if not backup.is_file():
        raise BackupError(f"there is no backup file at {backup}")
    try:
        conn = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            revision = _revision(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{backup} is not a SQLite database: {exc}") from exc
    if verdict != "ok":
        raise BackupError(f"{backup} fails SQLite's quick_check: {verdict}")
    if revision is None:
        raise BackupError(f"{backup} is not an lnx database (no schema revision)")
    return revision


def _holds_data(url: str) -> bool:
    engine = make_engine(url, pool_size=1)
    try:
        state, _ = schema_state(engine)
    finally:
        engine.dispose()
    return state != SchemaState.EMPTY


def restore_sqlite(backup: Path, db: Path, *, force: bool = False) -> BackupResult:
    """Replace the database at ``db`` with ``backup``; refuses a live or non-empty target unless forced."""
    started = time.perf_counter()
    revision = _validate_sqlite_backup(backup)
    if db.exists():
        reasons = sqlite_in_use(db)
        if reasons and not force:
            raise DatabaseInUse(
                f"{db} is in use: {'; '.join(reasons)}. Stop every lnx process first "
                "(or pass --force if you are sure none runs)"
            )
        if not force and _holds_data(f"sqlite:///{db}"):
            raise BackupError(
                f"{db} already holds an exchange; restoring replaces its log. Pass --force to do it "
                "(and read docs/deployment.md on telling witnesses)"
            )
    db.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(_lock_path(db), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not force:
                raise DatabaseInUse(f"an lnx server started serving {db} meanwhile") from None
        if not db.exists():
            os.close(os.open(db, os.O_WRONLY | os.O_CREAT, 0o600))
        src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        dst = sqlite3.connect(db, timeout=30)
        try:
            # Through SQLite rather than a file copy: any stale write-ahead log is reconciled and a
            # process that still has the file open (--force) sees the restored pages, not a ghost.
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    finally:
        os.close(fd)
    return BackupResult(db, db.stat().st_size, time.perf_counter() - started, revision)


# ---------------------------------------------------------------- PostgreSQL


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for the PostgreSQL tools, and the environment carrying the password.

    The password goes through ``PGPASSWORD`` so it never shows in the process list.
    """
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    target = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return target.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed here.\n{PG_GUIDANCE}")
    return path


def _run(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


def backup_postgres(url: str, out: Path) -> BackupResult:
    """``pg_dump --format=custom`` of the database (a consistent snapshot while serving)."""
    started = time.perf_counter()
    target, env = libpq_target(url)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(tmp), "--dbname", target], env)
        os.replace(tmp, out)
        _fsync_dir(out.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return BackupResult(out, out.stat().st_size, time.perf_counter() - started)


def postgres_in_use(url: str) -> int:
    """How many other sessions are connected to the database."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def restore_postgres(backup: Path, url: str, *, force: bool = False) -> BackupResult:
    """``pg_restore`` a custom-format dump; refuses a database in use or holding data unless forced."""
    started = time.perf_counter()
    if not backup.is_file():
        raise BackupError(f"there is no backup file at {backup}")
    pg_restore = _tool("pg_restore")
    if not force:
        sessions = postgres_in_use(url)
        if sessions:
            raise DatabaseInUse(
                f"the database has {sessions} other session(s): stop every lnx process first "
                "(or pass --force if you are sure none writes)"
            )
        if _holds_data(url):
            raise BackupError(
                "the database already holds an exchange; restoring replaces its log. Pass --force "
                "to do it (and read docs/deployment.md on telling witnesses)"
            )
    target, env = libpq_target(url)
    _run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            target,
            str(backup),
        ],
        env,
    )
    return BackupResult(backup, backup.stat().st_size, time.perf_counter() - started)


# ---------------------------------------------------------------- the log key for the check


def verifier_for(settings: Settings, vkey: str | None = None) -> note.Verifier | None:
    """The log's verifier: from ``vkey`` if given, else from the private key file (never created here)."""
    if vkey:
        return note.Verifier.from_vkey(vkey)
    path = settings.resolved_log_key_path
    if not path.is_file():
        return None
    return note.Signer.from_skey(path.read_text(encoding="utf-8").strip()).verifier()
