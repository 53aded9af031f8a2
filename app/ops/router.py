"""Liveness and readiness probes (public)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.ops import health

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> Any:
    """Database reachable, schema current, log key loaded: 200; otherwise 503 naming what is wrong."""
    checks = health.readiness(request.app)
    ok = all(c["ok"] for c in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "not-ready", "checks": checks}, status_code=200 if ok else 503
    )
