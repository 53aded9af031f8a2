"""Readiness checks shared by ``/readyz`` and the CLI."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.migrate import SchemaState, schema_state

__all__ = ["readiness", "REQUIRED_PROBES"]

REQUIRED_PROBES = ("log_key",)
"""Probes a ready process must have registered (``app.log.lifecycle`` registers ``log_key``)."""


def readiness(app: FastAPI) -> dict[str, dict[str, Any]]:
    """Each check by name with ``ok``; the process is ready when every one is ok."""
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
    probes = getattr(app.state, "readiness_probes", {})
    for name, probe in probes.items():
        try:
            checks[name] = probe()
        except Exception as exc:  # noqa: BLE001 - a failing probe must report, not crash the probe
            checks[name] = {"ok": False, "error": type(exc).__name__}
    for name in REQUIRED_PROBES:
        # A process whose log never loaded its key cannot sign checkpoints, so it cannot accept
        # submissions: it is not ready even if the probe was never registered.
        checks.setdefault(name, {"ok": False, "error": "not loaded"})
    return checks
