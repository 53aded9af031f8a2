"""Liveness and readiness probes and the Prometheus metrics (public, or restricted by network)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.ops import health
from app.ops import metrics as ops_metrics

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


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus exposition; 404 when disabled, 403 outside ``metrics_allow``."""
    return ops_metrics.render(request)
