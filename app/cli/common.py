"""Helpers shared by the server-side commands: settings from flags, a session, output."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker, session_scope
from app.errors import LnxError

__all__ = [
    "DatabaseUrlOpt",
    "DataDirOpt",
    "JsonOpt",
    "console",
    "err_console",
    "apply_server_options",
    "db_session",
    "print_json",
    "print_table",
    "fail",
]

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

DatabaseUrlOpt = Annotated[
    str | None, typer.Option("--database-url", envvar="LNX_DATABASE_URL", help="SQLAlchemy database URL.")
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="LNX_DATA_DIR", help="Data directory (SQLite file, log key)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def apply_server_options(database_url: str | None, data_dir: Path | None) -> Settings:
    """Put flags into the environment so this process and any worker it starts see the same settings."""
    if database_url:
        os.environ["LNX_DATABASE_URL"] = database_url
    if data_dir:
        os.environ["LNX_DATA_DIR"] = str(data_dir)
    get_settings.cache_clear()
    settings = get_settings()
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


@contextmanager
def db_session(settings: Settings) -> Iterator[Session]:
    from app.main import SchemaNotCurrent, check_schema

    engine = make_engine(settings.resolved_database_url, pool_size=1)
    try:
        try:
            check_schema(engine)
        except SchemaNotCurrent as exc:
            fail(str(exc), code=3)
        for session in session_scope(make_sessionmaker(engine)):
            from app.regimes import service as regimes_service

            # The shipped profiles exist from the first administrative command on.
            regimes_service.ensure_shipped_regimes(session)
            yield session
    finally:
        engine.dispose()


def print_json(obj: Any) -> None:
    typer.echo(orjson.dumps(obj, option=orjson.OPT_INDENT_2, default=str).decode())


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def run_service(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a service function, turning its problem errors into a clean CLI error."""
    try:
        return fn(*args, **kwargs)
    except LnxError as exc:
        details = "; ".join(f"{e.get('pointer', '')}: {e.get('message', '')}" for e in exc.errors)
        fail(f"{exc.detail}" + (f" ({details})" if details else ""))
