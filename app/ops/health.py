"""Readiness checks shared by ``/readyz`` and the CLI."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.migrate import SchemaState, schema_state

__all__ = ["readiness"]


def readiness(app: FastAPI) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}
    engine = app.state.engine
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except SQLAlchemyError as exc:
        checks["database"] = {"ok": False, "error": type(exc).__name__}
        checks["schema"] = {"ok": False, "error": "database unreachable"}
        return checks
    try:
        state, revision = schema_state(engine)
        checks["schema"] = {"ok": state == SchemaState.CURRENT, "state": state.value, "revision": revision}
    except SQLAlchemyError as exc:
        checks["schema"] = {"ok": False, "error": type(exc).__name__}
    for name, probe in getattr(app.state, "readiness_probes", {}).items():
        try:
            checks[name] = probe()
        except Exception as exc:  # noqa: BLE001 - a failing probe must report, not crash the probe
            checks[name] = {"ok": False, "error": type(exc).__name__}
    return checks
