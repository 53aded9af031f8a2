"""Upcoming launch windows and overdue post-launch reports, as the caller may read them.

A summary carries no geometry: it is what a watch floor scans in a table (``lnx report
upcoming``); the areas themselves are in ``/v1/documents.geojson`` and the documents.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.documents.models import Document, DocumentChain
from app.documents.service import chain_status
from app.documents.visibility import entrusted_regimes, full_access_clause
from app.reports import repository
from app.reports.schemas import UpcomingReport, WindowSummary

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "summary", "upcoming_report"]

DEFAULT_DAYS = 7
MAX_DAYS = 90


def summary(chain: DocumentChain, current: Document, now: datetime) -> WindowSummary:
    """The GeoJSON-free summary of a notification chain, from its current version."""
    payload = current.payload
    vehicle = payload.get("vehicle") or {}
    area = (payload.get("launch_area") or {}).get("properties") or {}
    return WindowSummary(
        id=chain.id,
        current_id=chain.current_id,
        issuer=chain.issuer,
        regime=chain.regime,
        category=vehicle.get("category"),
        generic_class=chain.vehicle_class,
        window_start=chain.window_start,
        window_end=chain.window_end,
        status=chain_status(chain, now) or chain.status,
        launch_area=area.get("name"),
    )


def upcoming_report(session: Session, principal: Principal, *, days: int, now: datetime) -> UpcomingReport:
    """Windows open now or opening within ``days``, and chains whose window closed unreported.

    A window already open counts as upcoming until it closes: a launch may still happen in it,
    which is what a reader of this list needs to know.
    """
    readable = full_access_clause(principal, entrusted_regimes(session, principal))
    windows = repository.open_windows(
        session, readable, starts_before=now + timedelta(days=days), ends_after=now
    )
    overdue = repository.expired_chains(session, readable, now)
    return UpcomingReport(
        generated_at=now,
        days=days,
        windows=[summary(chain, document, now) for chain, document in windows],
        overdue_post_launch=[summary(chain, document, now) for chain, document in overdue],
    )
