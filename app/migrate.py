"""Schema management through Alembic: upgrade, downgrade and the check ``serve`` makes at start."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, ForeignKeyConstraint, inspect

from app.db import SERVICE_CHECKED

__all__ = [
    "SchemaState",
    "alembic_config",
    "comparable",
    "upgrade",
    "downgrade",
    "schema_state",
    "head_revision",
]


class SchemaState(StrEnum):
    EMPTY = "empty"
    CURRENT = "current"
    OUTDATED = "outdated"
    UNKNOWN = "unknown"


def _script_location() -> str:
    return str(Path(str(resources.files("migrations"))).resolve())


def comparable(dialect: str) -> Callable[..., bool]:
    """Alembic's ``include_object`` for comparing the models with a database of ``dialect``.

    On PostgreSQL the foreign keys that ``app.db.service_checked_key`` declares are not in the
    schema (migration 0010): they are left out of the comparison there, and only there.
    """

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if dialect != "postgresql" or type_ != "foreign_key_constraint":
            return True
        if not isinstance(obj, ForeignKeyConstraint) or reflected:
            return True
        return not any(element.info.get(SERVICE_CHECKED) for element in obj.elements)

    return include


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", _script_location())
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    return heads[0]


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def schema_state(engine: Engine) -> tuple[SchemaState, str | None]:
    """Whether the database is empty, at head, behind head, or at a revision we do not know."""
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        tables = set(inspect(conn).get_table_names())
    if current is None:
        return (SchemaState.EMPTY if not tables - {"alembic_version"} else SchemaState.UNKNOWN), None
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    if current in script.get_heads():
        return SchemaState.CURRENT, current
    try:
        script.get_revision(current)
    except Exception:  # noqa: BLE001 - alembic raises several types for an unknown revision
        return SchemaState.UNKNOWN, current
    return SchemaState.OUTDATED, current
