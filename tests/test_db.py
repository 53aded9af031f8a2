"""The database plumbing on SQLite: writers of one process take turns at the writer gate."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.db import make_engine, make_sessionmaker, session_scope


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'gate.sqlite3'}"
    engine = make_engine(url, pool_size=2)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    engine.dispose()
    return url


def test_writers_of_one_process_take_turns(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url, pool_size=4)
    factory = make_sessionmaker(engine)
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        for session in session_scope(factory):
            session.execute(text("INSERT INTO t VALUES (1)"))
            first_in.set()
            time.sleep(0.3)
            order.append("first commits")

    def second() -> None:
        first_in.wait(5)
        for session in session_scope(factory):
            session.execute(text("INSERT INTO t VALUES (2)"))
            order.append("second writes")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert order == ["first commits", "second writes"]
    for session in session_scope(factory, read_only=True):
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    engine.dispose()


def test_a_writer_waits_at_most_the_busy_timeout(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url, pool_size=4, sqlite_busy_timeout_ms=200)
    factory = make_sessionmaker(engine)
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        for session in session_scope(factory):
            session.execute(text("INSERT INTO t VALUES (1)"))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    holding.wait(5)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="writer of this process"):
        for session in session_scope(factory):
            session.execute(text("INSERT INTO t VALUES (2)"))
    assert time.monotonic() - started < 5
    release.set()
    thread.join(10)

    for session in session_scope(factory):  # the gate is free again after the holder committed
        session.execute(text("INSERT INTO t VALUES (3)"))
    for session in session_scope(factory, read_only=True):
        assert session.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 3]
    engine.dispose()


def test_a_rolled_back_writer_frees_the_gate(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url, pool_size=2, sqlite_busy_timeout_ms=500)
    factory = make_sessionmaker(engine)
    with pytest.raises(RuntimeError):
        for session in session_scope(factory):
            session.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("refused")
    for session in session_scope(factory):
        session.execute(text("INSERT INTO t VALUES (2)"))
    for session in session_scope(factory, read_only=True):
        assert session.execute(text("SELECT n FROM t")).scalars().all() == [2]
    engine.dispose()
