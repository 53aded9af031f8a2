"""Test fixtures: a fresh, migrated database per test on SQLite or PostgreSQL, and the app over HTTP.

``LNX_TEST_DATABASE_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) selects
PostgreSQL; without it the suite runs on SQLite. Each test gets its own database cloned from a
template migrated once per session with ``alembic upgrade head`` (which also tests the migrations).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import migrate
from app.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTDATA = REPO_ROOT.parent / "shared" / "testdata"
PG_URL = os.environ.get("LNX_TEST_DATABASE_URL")


def pytest_report_header(config: pytest.Config) -> str:
    return f"lnx database backend: {'postgresql' if PG_URL else 'sqlite'}"


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("LNX_REQUIRE_POSTGRES") and not PG_URL:
        raise pytest.UsageError("LNX_REQUIRE_POSTGRES is set but LNX_TEST_DATABASE_URL is not")
    if PG_URL:
        # Fail loudly, never skip, when the PostgreSQL run cannot reach its server.
        engine = create_engine(make_url(PG_URL).set(database="postgres"))
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001
            raise pytest.UsageError(f"PostgreSQL at {PG_URL} is not reachable: {exc}") from exc
        finally:
            engine.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "postgres_only" in item.keywords and not PG_URL:
            item.add_marker(pytest.mark.skip(reason="needs LNX_TEST_DATABASE_URL (PostgreSQL)"))


class _Postgres:
    """Creates and drops throw-away databases on the test server."""

    def __init__(self, url: str) -> None:
        self.base = make_url(url)
        self.admin = create_engine(self.base.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def url_for(self, name: str) -> str:
        return self.base.set(database=name).render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> str:
        with self.admin.connect() as conn:
            clause = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        return self.url_for(name)

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def backend() -> str:
    return "postgresql" if PG_URL else "sqlite"


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    if PG_URL:
        pg = _Postgres(PG_URL)
        name = f"lnx_tpl_{uuid.uuid4().hex[:10]}"
        url = pg.create(name)
        migrate.upgrade(url)
        yield name, pg
        pg.drop(name)
        pg.admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        migrate.upgrade(f"sqlite:///{path}")
        yield str(path), None


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all (for migration tests)."""
    if PG_URL:
        pg = _Postgres(PG_URL)
        name = f"lnx_e_{uuid.uuid4().hex[:10]}"
        url = pg.create(name)
        yield url
        pg.drop(name)
        pg.admin.dispose()
    else:
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"


@pytest.fixture
def database_url(_template: tuple[str, object], tmp_path: Path) -> Iterator[str]:
    """A fresh database at head for this test."""
    template, pg = _template
    if isinstance(pg, _Postgres):
        name = f"lnx_t_{uuid.uuid4().hex[:12]}"
        url = pg.create(name, template=template)
        yield url
        pg.drop(name)
    else:
        path = tmp_path / "lnx.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        log_origin="lnx.test/log",
        webhook_allow_private=True,
        access_log=False,
        integrate_interval_ms=20,
    )


pytest_plugins = ["tests.fixtures"]
