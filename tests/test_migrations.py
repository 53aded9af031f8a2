"""Migrations up and down on the test database backend, and serve's refusal of an outdated schema."""

from __future__ import annotations

from sqlalchemy import inspect

from app import migrate
from app.db import make_engine
from app.main import SchemaNotCurrent, check_schema
from app.models import load_all_models


def _tables(url: str) -> set[str]:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database_url):
    from app.db import Base

    load_all_models()
    url = empty_database_url
    migrate.upgrade(url)
    tables = _tables(url)
    assert set(Base.metadata.tables) <= tables
    migrate.downgrade(url, "base")
    assert _tables(url) - {"alembic_version"} == set()
    migrate.upgrade(url)
    assert set(Base.metadata.tables) <= _tables(url)


def test_every_step_down_and_up(empty_database_url):
    from alembic.script import ScriptDirectory

    url = empty_database_url
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    for revision in revisions:
        migrate.upgrade(url, revision)
    for revision in reversed(revisions[:-1]):
        migrate.downgrade(url, revision)
    migrate.downgrade(url, "base")
    migrate.upgrade(url)


def test_models_match_migrations(empty_database_url):
    """Autogenerate finds nothing to do at head: the schema is only what the migrations make."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from app.db import Base

    load_all_models()
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            options = {"compare_type": False, "include_object": migrate.comparable(conn.dialect.name)}
            diff = compare_metadata(MigrationContext.configure(conn, opts=options), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_schema_states(empty_database_url):
    url = empty_database_url
    engine = make_engine(url, pool_size=1)
    try:
        assert migrate.schema_state(engine)[0] == migrate.SchemaState.EMPTY
        migrate.upgrade(url, "0001")
        assert migrate.schema_state(engine)[0] == migrate.SchemaState.OUTDATED
        try:
            check_schema(engine)
        except SchemaNotCurrent as exc:
            assert "lnx db upgrade" in str(exc)
        else:
            raise AssertionError("an outdated schema must be refused")
        migrate.upgrade(url)
        assert migrate.schema_state(engine)[0] == migrate.SchemaState.CURRENT
        check_schema(engine)
    finally:
        engine.dispose()


def test_recipient_rows_without_foreign_keys_and_documents_uncompressed(empty_database_url):
    """Migration 0007, down and up: recipient rows lose their foreign keys; on PostgreSQL a ~2.5 KB
    document row stays in place uncompressed (``toast_tuple_target``)."""
    from sqlalchemy import text

    def state() -> tuple[int, list[str] | None]:
        engine = make_engine(empty_database_url, pool_size=1)
        try:
            with engine.connect() as conn:
                foreign_keys = len(inspect(conn).get_foreign_keys("document_recipients"))
                if conn.dialect.name != "postgresql":
                    return foreign_keys, None
                options = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'documents'"))
                return foreign_keys, options.scalar()
        finally:
            engine.dispose()

    migrate.upgrade(empty_database_url)
    foreign_keys, options = state()
    assert foreign_keys == 0
    postgres = empty_database_url.startswith("postgresql")
    assert options == (["toast_tuple_target=8160"] if postgres else None)
    migrate.downgrade(empty_database_url, "0006")
    assert state() == (2, None)


def test_references_index_is_partial_and_serves_the_lookups(empty_database_url):
    """Migration 0009, down and up: only documents that refer to something are in the index, and
    a lookup by ``references_id`` (``=`` and ``IN``) is still answered from it."""
    from sqlalchemy import text

    def plan(conn, sql: str) -> str:  # type: ignore[no-untyped-def]
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET enable_seqscan = off"))  # an empty table is otherwise scanned
            return "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + sql)))
        return "\n".join(str(r[-1]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))

    def state() -> tuple[bool, list[str]]:
        engine = make_engine(empty_database_url, pool_size=1)
        try:
            with engine.connect() as conn:
                [index] = [
                    i
                    for i in inspect(conn).get_indexes("documents")
                    if i["name"] == "ix_documents_references_id"
                ]
                where = index.get("dialect_options", {}).get(f"{conn.dialect.name}_where")
                plans = [
                    plan(conn, "SELECT id FROM documents WHERE references_id = 'IND-2026-1'"),
                    plan(
                        conn, "SELECT id FROM documents WHERE references_id IN ('IND-2026-1', 'PAK-2026-2')"
                    ),
                ]
                return where is not None and "references_id IS NOT NULL" in str(where), plans
        finally:
            engine.dispose()

    migrate.upgrade(empty_database_url)
    partial, plans = state()
    assert partial
    assert all("ix_documents_references_id" in p for p in plans), plans
    migrate.downgrade(empty_database_url, "0008")
    assert state()[0] is False
    migrate.upgrade(empty_database_url)
    assert state()[0] is True


SERVICE_CHECKED_KEYS = {
    ("documents", "fk_documents_issuer_participants"),
    ("documents", "fk_documents_regime_regimes"),
    ("documents", "fk_documents_kid_participant_keys"),
    ("document_chains", "fk_document_chains_id_documents"),
    ("feed_events", "fk_feed_events_document_id_documents"),
}


def test_service_checked_keys_are_in_sqlites_schema_only(empty_database_url):
    """Migration 0010, down and up: PostgreSQL's schema loses the five keys the service checks,
    SQLite's keeps them, and the schema comparison leaves out exactly those five on PostgreSQL."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from app.db import Base

    load_all_models()

    def state() -> tuple[str, set[tuple[str, str]], list[tuple[str, str]]]:
        engine = make_engine(empty_database_url, pool_size=1)
        try:
            with engine.connect() as conn:
                inspector = inspect(conn)
                keys = {
                    (table, str(fk["name"]))
                    for table in {t for t, _ in SERVICE_CHECKED_KEYS}
                    for fk in inspector.get_foreign_keys(table)
                }
                unfiltered = compare_metadata(MigrationContext.configure(conn), Base.metadata)
                added = [(d[1].table.name, str(d[1].name)) for d in unfiltered if d[0] == "add_fk"]
                return conn.dialect.name, keys, added
        finally:
            engine.dispose()

    migrate.upgrade(empty_database_url)
    dialect, keys, added = state()
    if dialect == "postgresql":
        assert not keys & SERVICE_CHECKED_KEYS
        assert sorted(added) == sorted(SERVICE_CHECKED_KEYS)  # what ``comparable`` leaves out
    else:
        assert keys >= SERVICE_CHECKED_KEYS
        assert added == []
    migrate.downgrade(empty_database_url, "0009")
    _, keys, added = state()
    assert keys >= SERVICE_CHECKED_KEYS
    assert added == []
