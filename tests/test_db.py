"""The database plumbing: the SQLite writer gate, bulk inserts (direct and deferred) and reads sent
together, on both databases."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.db import (
    KeyedRead,
    Prepared,
    UTCDateTime,
    insert_rows,
    inserts_deferred,
    make_engine,
    make_sessionmaker,
    ping_unless_recently_used,
    read_together,
    session_scope,
    update_rows,
)


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


# ---------------------------------------------------------------- insert_rows and inserts_deferred

_metadata = MetaData()
_parents = Table(
    "t_parents",
    _metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("blob", LargeBinary, nullable=True),
    Column("doc", JSON, nullable=True),
    Column("at", UTCDateTime, nullable=True),
)
_children = Table(
    "t_children",
    _metadata,
    Column("parent_id", ForeignKey("t_parents.id"), primary_key=True),
    Column("name", String(16), primary_key=True),
)


@pytest.fixture
def bulk_factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url, pool_size=2)
    _metadata.create_all(engine)
    try:
        yield make_sessionmaker(engine)
    finally:
        _metadata.drop_all(engine)
        engine.dispose()


def _parent_rows(ids: range) -> list[dict[str, object]]:
    when = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    return [
        {
            "id": i,
            "blob": bytes([i % 256]) * 40 if i % 3 else None,
            "doc": {"n": i, "s": "é"} if i % 2 else None,
            "at": when,
        }
        for i in ids
    ]


def _stored(factory: sessionmaker[Session]) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with factory() as session:
        parents = [tuple(r) for r in session.execute(select(_parents).order_by(_parents.c.id))]
        children = [
            tuple(r)
            for r in session.execute(select(_children).order_by(_children.c.parent_id, _children.c.name))
        ]
    return parents, children


def test_deferred_inserts_write_every_table_at_the_end_in_foreign_key_order(bulk_factory) -> None:
    parents = _parent_rows(range(1, 8))
    children = [{"parent_id": i, "name": name} for i in range(1, 8) for name in ("a", "b")]
    for session in session_scope(bulk_factory):
        with inserts_deferred(session):
            insert_rows(session, _parents, parents[:3])
            insert_rows(session, _children, children)  # their parents are not all added yet
            insert_rows(session, _parents, parents[3:])
            with inserts_deferred(session):  # nested: joins the outer block
                insert_rows(session, _children, [{"parent_id": 1, "name": "c"}])
            assert session.execute(select(func.count()).select_from(_parents)).scalar_one() == 0
    stored_parents, stored_children = _stored(bulk_factory)
    assert stored_parents == [(r["id"], r["blob"], r["doc"], r["at"]) for r in parents]
    assert len(stored_children) == len(children) + 1


def test_rows_inserted_directly_and_deferred_read_back_the_same(bulk_factory) -> None:
    for session in session_scope(bulk_factory):
        insert_rows(session, _parents, _parent_rows(range(0, 5)))
        with inserts_deferred(session):
            insert_rows(session, _parents, _parent_rows(range(5, 10)))
    stored, _ = _stored(bulk_factory)
    assert stored == [(r["id"], r["blob"], r["doc"], r["at"]) for r in _parent_rows(range(0, 10))]


def test_a_failed_block_writes_nothing_and_a_duplicate_is_an_integrity_error(bulk_factory) -> None:
    with pytest.raises(RuntimeError), next(session_scope(bulk_factory)) as session:
        with inserts_deferred(session):
            insert_rows(session, _parents, _parent_rows(range(0, 3)))
            raise RuntimeError("the batch failed")
    assert _stored(bulk_factory) == ([], [])
    for session in session_scope(bulk_factory):
        insert_rows(session, _parents, _parent_rows(range(0, 1)))
    with pytest.raises(IntegrityError):
        for session in session_scope(bulk_factory):
            with inserts_deferred(session):
                insert_rows(session, _parents, _parent_rows(range(0, 2)))
    assert [r[0] for r in _stored(bulk_factory)[0]] == [0]


def test_deferred_rows_keep_values_that_json_spells_awkwardly(bulk_factory) -> None:
    """On PostgreSQL the rows travel as one JSON array per table: text with quotes, backslashes and
    line breaks, bytes, times and integers beyond 64 bits (which orjson refuses) come back as given."""
    when = datetime(2026, 11, 29, 12, 0, 0, 123456, tzinfo=UTC)
    parents = [
        {
            "id": 1,
            "blob": b"\x00\xff\\x",
            "doc": {"big": 2**70, "text": 'a "quoted"\\ line\nnext'},
            "at": when,
        },
        {"id": 2, "blob": b"", "doc": ["é", {"nested": [1.5, None, True]}], "at": None},
    ]
    children = [{"parent_id": 1, "name": 'q"b\\c\nd'}, {"parent_id": 2, "name": "'; --"}]
    for session in session_scope(bulk_factory):
        with inserts_deferred(session):
            insert_rows(session, _parents, parents)
            insert_rows(session, _children, children)
    stored_parents, stored_children = _stored(bulk_factory)
    assert stored_parents == [(r["id"], r["blob"], r["doc"], r["at"]) for r in parents]
    assert sorted(stored_children) == sorted((c["parent_id"], c["name"]) for c in children)


def test_rows_updated_directly_and_deferred_by_primary_key(bulk_factory) -> None:
    """``update_rows`` sets the given columns of the rows with these keys, and leaves the others;
    deferred, it joins the block's one statement, after the block's inserts."""
    when = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    for session in session_scope(bulk_factory):
        insert_rows(session, _parents, _parent_rows(range(1, 5)))
        update_rows(session, _parents, [{"id": 1, "blob": b"\x00direct", "doc": {"v": 1}}])
        with inserts_deferred(session):
            update_rows(
                session, _parents, [{"id": 2, "blob": None, "at": when}, {"id": 3, "blob": b"", "at": None}]
            )
            insert_rows(session, _parents, _parent_rows(range(5, 6)))
            insert_rows(session, _children, [{"parent_id": 5, "name": "a"}])
            update_rows(session, _parents, [{"id": 4, "doc": ["deferred"], "blob": b"\xff"}])
    stored, children = _stored(bulk_factory)
    original = {r["id"]: (r["id"], r["blob"], r["doc"], r["at"]) for r in _parent_rows(range(1, 6))}
    assert stored == [
        (1, b"\x00direct", {"v": 1}, original[1][3]),
        (2, None, original[2][2], when),
        (3, b"", original[3][2], None),
        (4, b"\xff", ["deferred"], original[4][3]),
        original[5],
    ]
    assert children == [(5, "a")]


# ---------------------------------------------------------------- read_together

_parents_by_id = KeyedRead(select(_parents), _parents.c.id, "ids")
_children_by_parent = KeyedRead(
    select(_children.c.parent_id, func.count().label("n")).group_by(_children.c.parent_id),
    _children.c.parent_id,
    "parent_ids",
)


def test_reads_sent_together_read_what_sqlalchemy_reads(bulk_factory) -> None:
    """On PostgreSQL the reads bypass SQLAlchemy (psycopg's pipeline): the rows must be the same
    values -- UTC time stamps, JSON decoded, bytes -- as SQLAlchemy gives for the same query."""
    for session in session_scope(bulk_factory):
        insert_rows(session, _parents, _parent_rows(range(1, 7)))
        insert_rows(session, _children, [{"parent_id": i, "name": n} for i in (2, 3) for n in "abc"[:i]])
    # One key goes as "= key" on PostgreSQL, several as "= ANY(array)": both must read the same.
    reads = [
        _parents_by_id([1, 2, 3, 99]),
        _children_by_parent([2, 3, 4]),
        _parents_by_id([]),
        _parents_by_id([2]),
    ]
    for session in session_scope(bulk_factory, read_only=True):
        together = read_together(session, reads)
        one_by_one = [
            [dict(row._mapping) for row in session.execute(read.query.statement, read.params)]
            for read in reads
        ]
    by_key = [sorted(rows, key=lambda row: str(row)) for rows in together]
    assert by_key == [sorted(rows, key=lambda row: str(row)) for rows in one_by_one]
    parents = {row["id"]: row for row in together[0]}
    assert set(parents) == {1, 2, 3}
    assert parents[1]["doc"] == {"n": 1, "s": "é"} and parents[1]["blob"] == bytes([1]) * 40
    assert parents[2]["at"] == datetime(2026, 11, 29, 12, 0, tzinfo=UTC) and parents[2]["at"].tzinfo == UTC
    assert sorted((row["parent_id"], row["n"]) for row in together[1]) == [(2, 2), (3, 3)]
    assert together[2] == []
    assert together[3] == [parents[2]]


def test_a_failing_read_fails_the_set_as_sqlalchemy_would(bulk_factory) -> None:
    never_created = Table("t_never_created", MetaData(), Column("id", BigInteger, primary_key=True))
    broken = KeyedRead(select(never_created), never_created.c.id, "ids")
    with pytest.raises(DBAPIError) as raised:
        for session in session_scope(bulk_factory):
            read_together(session, [_parents_by_id([1]), broken([1, 2])])
    assert "t_never_created" in str(raised.value)
    for session in session_scope(bulk_factory, read_only=True):  # the connection is usable again
        assert read_together(session, [_parents_by_id([1])]) == [[]]


_advance_parent = Prepared(
    update(_parents)
    .where(_parents.c.id == 1)  # a value the statement binds itself
    .values(id=_parents.c.id + bindparam("step"), blob=func.coalesce(_parents.c.blob, bindparam("blob")))
    .returning(_parents.c.id, _parents.c.blob, _parents.c.doc, _parents.c.at)
)


def test_a_prepared_statement_runs_alone_or_with_reads_and_returns_what_sqlalchemy_returns(
    bulk_factory,
) -> None:
    """A counter's ``UPDATE ... RETURNING`` through the driver: the values it binds itself go along,
    and what it returns reads as SQLAlchemy would give it (plain parameters only: no JSON ones)."""
    for session in session_scope(bulk_factory):
        insert_rows(session, _parents, _parent_rows(range(1, 3)))
    for session in session_scope(bulk_factory):
        [[alone]] = read_together(session, [_advance_parent(step=10, blob=b"\x00new")])
        together = read_together(session, [_parents_by_id([2]), _advance_parent(step=100, blob=None)])
    when = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert alone == {"id": 11, "blob": bytes([1]) * 40, "doc": {"n": 1, "s": "é"}, "at": when}
    assert alone["at"].tzinfo == UTC
    assert together[1] == []  # id 1 is 11 now: nothing left to advance
    assert [row["id"] for row in together[0]] == [2]
    for session in session_scope(bulk_factory):  # SQLAlchemy, given the same statement, agrees
        session.execute(update(_parents).where(_parents.c.id == 11).values(id=1))
        statement, params = _advance_parent.statement, {"step": 10, "blob": None}
        expected = [dict(row._mapping) for row in session.execute(statement, params)]
    assert expected == [alone]


# ---------------------------------------------------------------- checking pooled connections


def _terminate_backend_of(engine_url: str, pid: int) -> None:
    admin = make_engine(engine_url, pool_size=1)
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            connection.commit()
    finally:
        admin.dispose()


@pytest.mark.postgres_only
def test_a_connection_used_a_moment_ago_is_handed_out_without_a_ping(database_url: str) -> None:
    """Within the bypass window a pooled connection goes out unchecked (no round trip): a backend
    killed meanwhile fails the next statement, which marks the connection broken; the checkout
    after that replaces it (and the rest of the pool), without waiting out the window."""
    engine = make_engine(database_url, pool_size=1)
    factory = make_sessionmaker(engine)
    _metadata.create_all(engine)
    try:
        for path in ("SQLAlchemy", "the driver"):  # read_together's failure does not invalidate by itself
            with engine.connect() as connection:
                pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            _terminate_backend_of(database_url, pid)
            with pytest.raises(OperationalError):
                for session in session_scope(factory, read_only=True):
                    if path == "SQLAlchemy":
                        session.execute(text("SELECT 1"))
                    else:
                        read_together(session, [_parents_by_id([1])])
            with engine.connect() as connection:
                assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        _metadata.drop_all(engine)
        engine.dispose()


@pytest.mark.postgres_only
def test_a_connection_idle_longer_than_the_window_is_pinged_and_replaced_if_dead(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, pool_pre_ping=False)
    ping_unless_recently_used(engine, bypass_s=0.05)
    try:
        with engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        _terminate_backend_of(database_url, pid)
        time.sleep(0.1)
        with engine.connect() as connection:  # the ping found it dead: a new one, no error
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        engine.dispose()
