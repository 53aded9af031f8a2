"""Database plumbing: the declarative base, engines for SQLite and PostgreSQL, the session dependency.

We use **synchronous** SQLAlchemy 2 (see ``docs/decisions.md``): the hot path is CPU-bound (signature
checks, hashing), psycopg 3 and sqlite3 are mature as sync drivers, and FastAPI runs sync dependencies
in its thread pool. The few long-waiting endpoints (long poll, SSE) are async and touch the
database only through short thread-pool calls.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row
from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Engine,
    Executable,
    ForeignKey,
    MetaData,
    Select,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    insert,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "UTCDateTime",
    "SERVICE_CHECKED",
    "service_checked_key",
    "make_engine",
    "ping_unless_recently_used",
    "PING_BYPASS_S",
    "make_sessionmaker",
    "is_postgres",
    "utcnow",
    "session_scope",
    "insert_rows",
    "update_rows",
    "inserts_deferred",
    "KeyedRead",
    "Read",
    "read_together",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both databases (SQLite has no time zones of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


SERVICE_CHECKED = "lnx_service_checked"
"""``ForeignKey.info`` flag of a key that PostgreSQL's schema does not declare (``service_checked_key``)."""


def service_checked_key(target: str) -> ForeignKey:
    """A foreign key of a submission's rows that the service itself checks in the same transaction,
    declared in SQLite's schema and not in PostgreSQL's (migration 0010, ``docs/decisions.md``).

    The submission batch writes these rows in one statement under the log counter's lock, where
    PostgreSQL's check of each key (a lookup that takes a KEY SHARE lock, WAL-logged, on the
    referenced row) costs every other writer time: measured, about a tenth of the accepted
    documents per second with two workers. What they would guard is checked anyway: the issuer is
    the authenticated participant, the key and the regime are read (and the key's validity
    checked) in the batch's transaction, a chain and a feed event are inserted in the very
    statement that inserts their document, and none of the referenced rows is ever deleted.
    SQLite keeps them: one writer, no lock to hold up, and dropping them there means copying
    tables that other tables reference. ``migrate.comparable`` leaves them out of the schema
    comparison on PostgreSQL.
    """
    return ForeignKey(target, info={SERVICE_CHECKED: True})


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_postgres(engine_or_session: Engine | Session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "postgresql"


def _json_serializer(value: Any) -> str:
    """JSON columns through orjson (several times faster than ``json``), ``json`` for what it refuses.

    orjson refuses integers beyond 64 bits and non-string keys, which a stored payload may hold
    (it is only JSON-parsed); ``json`` writes those, so nothing accepted fails to store.
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _WriterGate:
    """One SQLite write transaction at a time per process, queued on a Python lock.

    SQLite lets one writer in at a time anyway; a writer that finds the database locked waits in
    SQLite's busy handler, which sleeps in steps of up to 100 ms. Writers of the same process (the
    submission batcher, the log integrator, the delivery worker) would pay those sleeps in full
    while they take turns; queued here, the next one starts the moment the last one committed.
    Writers of other processes still meet the busy timeout. The gate is held from BEGIN IMMEDIATE
    to COMMIT or ROLLBACK, by the DBAPI connection that began it (re-entry by it is a no-op).
    """

    def __init__(self, timeout_s: float) -> None:
        self._lock = threading.Lock()
        self._holder: Any = None
        self._timeout_s = timeout_s

    def enter(self, dbapi_connection: Any) -> None:
        """Wait for the gate, at most the busy timeout (as SQLite would have), then "locked"."""
        if self._holder is not None and self._holder is dbapi_connection:
            return
        if not self._lock.acquire(timeout=self._timeout_s):
            locked = sqlite3.OperationalError(
                f"database is locked (another writer of this process held it for {self._timeout_s:g} s)"
            )
            raise OperationalError("BEGIN IMMEDIATE", None, locked)
        self._holder = dbapi_connection

    def leave(self, dbapi_connection: Any) -> None:
        if dbapi_connection is not None and self._holder is dbapi_connection:
            self._holder = None
            self._lock.release()


def make_engine(
    url: str, *, pool_size: int = 10, sqlite_busy_timeout_ms: int = 10_000, sqlite_cache_mib: int = 16
) -> Engine:
    """An engine configured the same way for the server, the workers, the CLI and the tests."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": sqlite_busy_timeout_ms / 1000},
            json_serializer=_json_serializer,
            pool_size=pool_size,
            max_overflow=pool_size * 2,
            pool_pre_ping=False,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Take over transaction control from pysqlite so BEGIN IMMEDIATE works (writers queue on
            # the busy timeout instead of failing on lock upgrade).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # The log's indexes outgrow SQLite's 2 MiB default; each connection fills its cache up to
            # this bound as the database grows, so it is part of a worker's steady memory.
            cursor.execute(f"PRAGMA cache_size={-1024 * int(sqlite_cache_mib)}")
            cursor.execute(f"PRAGMA busy_timeout={int(sqlite_busy_timeout_ms)}")
            cursor.close()

        gate = _WriterGate(sqlite_busy_timeout_ms / 1000)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the write lock up front: a deferred transaction that read first would fail
            # with SQLITE_BUSY (no waiting) if another writer committed meanwhile. Readers opt out.
            if conn.get_execution_options().get("lnx_read_only", False):
                conn.exec_driver_sql("BEGIN")
                return
            dbapi_connection = conn.connection.dbapi_connection
            gate.enter(dbapi_connection)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                gate.leave(dbapi_connection)
                raise

        @event.listens_for(engine, "commit")
        def _sqlite_commit(conn: Any) -> None:
            # The event comes before SQLAlchemy's own COMMIT: commit here, so that the next writer
            # is let in only once this one's data is durable (the later COMMIT is then a no-op).
            dbapi_connection = conn.connection.dbapi_connection
            try:
                dbapi_connection.commit()
            finally:
                gate.leave(dbapi_connection)

        @event.listens_for(engine, "rollback")
        def _sqlite_rollback(conn: Any) -> None:
            dbapi_connection = conn.connection.dbapi_connection
            try:
                dbapi_connection.rollback()
            except Exception:  # noqa: BLE001, S110 - SQLAlchemy's own rollback reports the error
                pass
            finally:
                gate.leave(dbapi_connection)

        @event.listens_for(engine.pool, "checkin")
        def _sqlite_checkin(dbapi_connection: Any, _record: Any) -> None:
            gate.leave(dbapi_connection)  # a safety net: every transaction ends above

        @event.listens_for(engine.pool, "invalidate")
        def _sqlite_invalidate(dbapi_connection: Any, _record: Any, _exc: Any) -> None:
            gate.leave(dbapi_connection)

        return engine
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,  # ping_unless_recently_used instead
        json_serializer=_json_serializer,
    )
    ping_unless_recently_used(engine, PING_BYPASS_S)
    return engine


PING_BYPASS_S = 0.5
"""A pooled PostgreSQL connection returned less than this long ago is handed out without a ping."""

_RETURNED_AT = "lnx_returned_at"


def ping_unless_recently_used(engine: Engine, bypass_s: float) -> None:
    """Check a pooled connection at checkout -- unless it was in use less than ``bypass_s`` ago.

    SQLAlchemy's ``pool_pre_ping`` costs a round trip at every checkout: under load, a submission
    batch's one pooled connection paid 120 µs of CPU for it (a sixth of the batch's fixed cost,
    ``bench/batch_cost.py``), and every request one round trip of latency. A connection that was
    working a moment ago is almost certainly working now: this is HikariCP's
    ``aliveBypassWindowMs`` (500 ms there too). A ping that fails invalidates the whole pool, as
    a failed pre-ping does (after a server restart every pooled connection is stale), and the
    checkout proceeds on a new connection.

    What it trades: a connection that died within the bypass window is not caught here; its
    next statement fails (the request or batch answers 503 and may be retried), and the rollback
    that follows finds the connection lost and invalidates it, so the next checkout gets a new
    one (``tests/test_db.py``, also for statements sent through the driver).
    """
    dialect = engine.dialect

    @event.listens_for(engine.pool, "connect")
    def _connected(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine.pool, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_RETURNED_AT, 0.0) < bypass_s:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise InvalidatePoolError("the connection failed its ping") from exc
            raise


class KeyedRead:
    """A prebuilt query for the rows whose ``key`` is one of a list: ``read(keys)`` makes its ``Read``.

    Built once per query, on both databases' terms: SQLite takes the list as an expanding
    ``IN (...)``; PostgreSQL as one array parameter, ``key = ANY(%(name)s)``, compiled here to
    the SQL text psycopg runs (``read_together`` bypasses SQLAlchemy's execution there). One
    SQL text for any number of keys also lets psycopg prepare it once.

    A single key goes as ``key = %(name)s`` instead. PostgreSQL plans a prepared statement anew
    on every run while its plan for the parameters at hand looks cheaper than the generic one,
    and for ``= ANY(array)`` the generic plan assumes ten elements: a submission batch's
    regimes read (nearly always one regime) was planned at every batch, 76 µs of the server's
    CPU each time (``pg_stat_statements``). With ``=`` both plans agree and the generic one is
    kept after psycopg has prepared the statement.
    """

    def __init__(self, query: Select[Any], key: ColumnElement[Any], name: str) -> None:
        from sqlalchemy.dialects.postgresql import ARRAY

        self.name = name
        self.statement = query.where(key.in_(bindparam(name, expanding=True)))
        self.postgres = _psycopg_sql(
            query.where(key == any_(bindparam(name, type_=ARRAY(key.type)))), name, []
        )
        self.postgres_one = _psycopg_sql(query.where(key == bindparam(name, type_=key.type)), name, None)

    def __call__(self, keys: Iterable[Any]) -> Read:
        return Read(self, {self.name: list(keys)})

    def for_driver(self, params: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
        """The SQL text and parameters psycopg runs for these parameters."""
        keys = params[self.name]
        if len(keys) == 1:
            return self.postgres_one, {**params, self.name: keys[0]}
        return self.postgres, params


def _psycopg_sql(statement: Select[Any], name: str, value: Any) -> str:
    from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

    # render_postcompile: literal-valued parameters (a separator of string_agg) go inline; it
    # needs a value for every parameter, and leaves the key's placeholder as it is.
    compiled = statement.params({name: value}).compile(
        dialect=psycopg_dialect(), compile_kwargs={"render_postcompile": True}
    )
    return str(compiled)


class Prepared:
    """A statement a submission batch runs every time (a counter's ``UPDATE ... RETURNING``),
    compiled once to the SQL text psycopg runs, so that ``read_together`` can send it without
    SQLAlchemy's execution: about 0.2 ms of CPU per statement (``docs/decisions.md``, "The batch's
    three reads in one round trip" and "The batch's two counter statements through the driver"). SQLite runs ``statement`` through SQLAlchemy as before. Its parameters go to
    psycopg as they are: plain values (numbers, strings, bytes), not what needs SQLAlchemy's bind
    processing (a JSON column's value).
    """

    def __init__(self, statement: Executable) -> None:
        from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

        self.statement = statement
        compiled = statement.compile(dialect=psycopg_dialect())
        self.postgres = str(compiled)
        # Values the statement binds itself (``id = 1``, a channel name), which SQLAlchemy would add.
        self._bound = {name: value for name, value in compiled.params.items() if value is not None}

    def __call__(self, **params: Any) -> Read:
        return Read(self, params)

    def for_driver(self, params: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
        """The SQL text and parameters psycopg runs for these parameters."""
        return self.postgres, {**self._bound, **params}


@dataclass(frozen=True, slots=True)
class Read:
    """One statement of the few that ``read_together`` sends at once, with its parameters."""

    query: KeyedRead | Prepared
    params: Mapping[str, Any]


def read_together(session: Session, reads: Sequence[Read]) -> list[list[dict[str, Any]]]:
    """The rows of several independent queries, as dicts, in the caller's transaction.

    On PostgreSQL they travel in one round trip (psycopg's pipeline mode: the transaction's BEGIN
    and every query sent before any result is awaited) and psycopg's rows are used as they come:
    a submission batch's three reads cost 1.0-1.2 ms of CPU through SQLAlchemy, one statement and
    round trip after the other, against 0.35-0.5 ms pipelined (session 5's figures; session 7's,
    in ``docs/decisions.md``: the fixed CPU of a batch 2.09-2.35 -> 1.43-2.17 ms). Time stamps
    come back in UTC like ``UTCDateTime``'s; JSON decoded. SQLite runs them one after the other
    through SQLAlchemy.
    """
    if not is_postgres(session):
        connection = session.connection()
        return [
            [dict(row._mapping) for row in connection.execute(r.query.statement, r.params)] for r in reads
        ]
    driver = session.connection().connection.dbapi_connection
    assert isinstance(driver, psycopg.Connection)
    cursors = [driver.cursor(row_factory=dict_row) for _ in reads]
    try:
        if len(reads) == 1:  # one round trip anyway: the pipeline's own messages would cost more
            cursors[0].execute(*reads[0].query.for_driver(reads[0].params))
        else:
            with driver.pipeline():
                for cursor, read in zip(cursors, reads, strict=True):
                    cursor.execute(*read.query.for_driver(read.params))
        return [[_in_utc(row) for row in cursor.fetchall()] for cursor in cursors]
    except psycopg.Error as exc:
        statements = ";\n".join(read.query.postgres for read in reads)
        raise DBAPIError.instance(statements, None, exc, psycopg.Error) from exc
    finally:
        for cursor in cursors:
            cursor.close()


def _in_utc(row: dict[str, Any]) -> dict[str, Any]:
    for name, value in row.items():
        if isinstance(value, datetime):
            row[name] = value.astimezone(UTC)
    return row


_DEFERRED_INSERTS = "lnx_deferred_inserts"


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows in the caller's transaction, the way each database takes them fastest.

    PostgreSQL gets them through a binary ``COPY ... FROM STDIN``: psycopg's ``executemany``
    sends one statement per row (measured: 22,000 statements, and as much server CPU, for a
    batch run of 2,000 documents), multi-row ``INSERT ... VALUES`` statements cost psycopg more
    to parse than the rows themselves, and the binary format spares the hex encoding of every
    ``bytea`` that the text format needs (a batch of 16 log leaves: 225 µs instead of 360 µs).
    SQLite's driver runs ``executemany`` in a C loop over one prepared statement, which is the
    cheap form there. Every row has the keys of the first one.

    Inside ``inserts_deferred(session)`` the rows are only collected, and written at its end.
    """
    if not rows or _deferred(session, table, rows, "insert"):
        return
    if not is_postgres(session):
        session.execute(insert(table), list(rows))
        return
    names = tuple(rows[0])
    statement, types, json_columns = _copy_plan(table, names)
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            copy.set_types(types)
            if json_columns:
                for row in rows:
                    copy.write_row(
                        [
                            _json_serializer(row[n]) if i in json_columns and row[n] is not None else row[n]
                            for i, n in enumerate(names)
                        ]
                    )
            else:
                for row in rows:
                    copy.write_row([row[n] for n in names])
    except psycopg.Error as exc:
        # As SQLAlchemy would have raised it (IntegrityError for a unique violation, ...).
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
    finally:
        cursor.close()


def update_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Update rows by primary key: each row holds its key's columns and the columns to set.

    Inside ``inserts_deferred(session)`` the update joins the block's one statement (on
    PostgreSQL an ``UPDATE ... FROM json_populate_recordset(...)`` among its CTEs), so that, for
    example, the tree head a batch advances costs no round trip of its own.
    """
    if not rows or _deferred(session, table, rows, "update"):
        return
    statement, params = _update_statement(table, tuple(rows[0])), [_update_params(table, row) for row in rows]
    session.execute(statement, params)


@functools.lru_cache(maxsize=64)
def _update_statement(table: Table, names: tuple[str, ...]) -> Any:
    keys = [c.name for c in table.primary_key.columns]
    return (
        update(table)
        .where(*(table.c[k] == bindparam(f"key_{k}") for k in keys))
        .values({n: bindparam(n) for n in names if n not in keys})
    )


def _update_params(table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    keys = {c.name for c in table.primary_key.columns}
    return {(f"key_{n}" if n in keys else n): value for n, value in row.items()}


_Deferred = dict[tuple[Table, tuple[str, ...], str], list[Mapping[str, Any]]]


def _deferred(session: Session, table: Table, rows: Sequence[Mapping[str, Any]], kind: str) -> bool:
    """Keep the rows for the end of the ``inserts_deferred`` block, if one is open; say whether."""
    deferred: _Deferred | None = session.info.get(_DEFERRED_INSERTS)
    if deferred is None:
        return False
    deferred.setdefault((table, tuple(rows[0]), kind), []).extend(rows)
    return True


@contextmanager
def inserts_deferred(session: Session) -> Iterator[None]:
    """Collect the ``insert_rows`` (and ``update_rows``) calls of the block and write them all when
    it ends without error.

    On PostgreSQL they become **one** statement: an ``INSERT ... SELECT FROM
    json_populate_recordset(...)`` per table, chained as data-modifying CTEs, each table's rows
    sent as one JSON array of objects that orjson writes in one call. A submission batch writes
    to seven tables; as seven ``COPY`` runs that cost fourteen round trips and about twice the
    client CPU of one statement. Binary arrays per column (``unnest``) made it one round trip,
    but psycopg builds arrays value by value in Python: with 32 documents, 23 % of the batch's
    CPU. PostgreSQL parses the JSON and each value with its column type's own input function
    (``bytea`` as ``\\x`` hex). Foreign keys are checked at the end of the statement, when all
    its rows exist. On SQLite each table's rows are one ``executemany``, in the order of first use
    (which is the order the foreign keys need). Code in the block must not read rows it
    inserted there, and an update in the block does not see rows inserted in it (the CTEs of one
    statement share one snapshot).
    """
    if _DEFERRED_INSERTS in session.info:
        yield
        return
    deferred: _Deferred = {}
    session.info[_DEFERRED_INSERTS] = deferred
    try:
        yield
    finally:
        del session.info[_DEFERRED_INSERTS]
    if not deferred:
        return
    if not is_postgres(session):
        for (table, names, kind), rows in deferred.items():
            if kind == "insert":
                session.execute(insert(table), rows)
            else:
                session.execute(_update_statement(table, names), [_update_params(table, r) for r in rows])
        return
    statement = _recordset_plan(tuple(deferred))
    params = [_json_rows(rows) for rows in deferred.values()]
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement, params)
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
    finally:
        cursor.close()


def _pg_type(column_type: Any) -> str:
    from sqlalchemy.dialects import postgresql

    return str(column_type.compile(dialect=postgresql.dialect())).split("(")[0].strip().lower()


def _column_types(table: Table, names: tuple[str, ...]) -> tuple[list[str], frozenset[int]]:
    """The PostgreSQL type of each column, and the positions of the JSON ones.

    JSON columns travel as ``text``: PostgreSQL's binary input of ``json`` is its text, so the
    value is our own (orjson) serialisation, exactly as in the rest of the application.
    """
    types, json_columns = [], set()
    for position, name in enumerate(names):
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            json_columns.add(position)
            types.append("text")
        else:
            types.append(_pg_type(column_type))
    return types, frozenset(json_columns)


@functools.lru_cache(maxsize=64)
def _copy_plan(table: Table, names: tuple[str, ...]) -> tuple[str, list[str], frozenset[int]]:
    """The binary ``COPY`` statement for these columns, their types, and the JSON ones' positions."""
    types, json_columns = _column_types(table, names)
    columns = ", ".join(f'"{n}"' for n in names)
    statement = f'COPY "{table.name}" ({columns}) FROM STDIN (FORMAT BINARY)'  # noqa: S608 - our own names
    return statement, types, json_columns


@functools.lru_cache(maxsize=64)
def _recordset_plan(plan: tuple[tuple[Table, tuple[str, ...], str], ...]) -> str:
    """The one statement of ``inserts_deferred`` for these tables, columns and kinds (built once).

    ``json_populate_recordset(NULL::t, rows)`` types each member by the table's own column; a JSON
    column takes the member's JSON text as it is. An update sets the row of each member's key.
    """
    parts = []
    for table, names, kind in plan:
        source = f'json_populate_recordset(NULL::"{table.name}", %s::json)'
        if kind == "insert":
            columns = ", ".join(f'"{n}"' for n in names)
            parts.append(f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM {source}')  # noqa: S608
            continue
        keys = [c.name for c in table.primary_key.columns]
        assignments = ", ".join(f'"{n}" = r."{n}"' for n in names if n not in keys)
        matches = " AND ".join(f't."{k}" = r."{k}"' for k in keys)
        parts.append(f'UPDATE "{table.name}" AS t SET {assignments} FROM {source} AS r WHERE {matches}')  # noqa: S608
    *first, last = parts
    ctes = ", ".join(f"i{n} AS ({part})" for n, part in enumerate(first))
    return f"WITH {ctes} {last}" if ctes else last


def _json_value(value: Any) -> Any:
    """What orjson does not write itself: ``bytea`` in PostgreSQL's hex input form; datetimes for ``json``."""
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json_rows(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as one JSON array for ``json_populate_recordset``; ``json`` for what orjson refuses (big ints)."""
    try:
        return orjson.dumps(rows, default=_json_value).decode()
    except TypeError:
        return json.dumps(rows, default=_json_value, ensure_ascii=False, separators=(",", ":"))


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def session_scope(factory: sessionmaker[Session], *, read_only: bool = False) -> Iterator[Session]:
    """Commit on success, roll back on error: the caller (request, job) owns the transaction.

    A read-only session is bound to the engine with the ``lnx_read_only`` option (a plain
    deferred BEGIN on SQLite) and, like every session, takes its pooled connection only at
    first use, so a request never holds a connection while it is still authenticating.
    """
    if read_only:
        engine = factory.kw["bind"]
        session = factory(bind=engine.execution_options(lnx_read_only=True))
    else:
        session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        try:
            session.rollback()
        except Exception:  # noqa: BLE001, S110 - a lost connection (now invalidated): the first error stands
            pass
        raise
    finally:
        session.close()
