"""HTTP routes of reports: declarations, the compliance report and upcoming windows."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from app.db import utcnow
from app.deps import ReaderDep, ReadSessionDep
from app.reports import compliance, csvout, declarations, upcoming
from app.reports.schemas import ComplianceReport, UpcomingReport

router = APIRouter(prefix="/v1", tags=["reports"])

CSV = "text/csv"
_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {CSV: {"schema": {"type": "string"}}}}}
Year = Annotated[int, Query(ge=1957, le=2100, description="The year reported on.")]


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return CSV in accept and "application/json" not in accept


def _csv(text: str) -> Response:
    return Response(text, media_type=f"{CSV}; charset=utf-8")


@router.get("/declarations")
def list_declarations(
    session: ReadSessionDep,
    principal: ReaderDep,
    year: Annotated[int | None, Query(ge=1957, le=2100)] = None,
    issuer: str | None = None,
    regime: str | None = None,
) -> Response:
    """The current annual declarations the caller may read, with what they supersede and their timeliness."""
    body = declarations.list_declarations(
        session, principal, utcnow(), year=year, issuer=issuer, regime=regime
    )
    return _json({"declarations": body})


@router.get("/reports/compliance", response_model=ComplianceReport, responses=_CSV_RESPONSE)
def compliance_report(
    request: Request, session: ReadSessionDep, principal: ReaderDep, year: Year, regime: str | None = None
) -> Response:
    """Per regime and member state: declaration, launches on record, findings, acknowledgements (JSON or CSV)."""
    report = compliance.compliance_report(session, principal, year=year, regime=regime, now=utcnow())
    if _wants_csv(request):
        return _csv(csvout.compliance_csv(report))
    return _json(report.model_dump(mode="json", exclude_unset=True))


@router.get("/reports/upcoming", response_model=UpcomingReport, responses=_CSV_RESPONSE)
def upcoming_report(
    request: Request,
    session: ReadSessionDep,
    principal: ReaderDep,
    days: Annotated[int, Query(ge=1, le=upcoming.MAX_DAYS)] = upcoming.DEFAULT_DAYS,
) -> Response:
    """Launch windows open now or within ``days``, and notifications overdue a post-launch report (JSON or CSV)."""
    report = upcoming.upcoming_report(session, principal, days=days, now=utcnow())
    if _wants_csv(request):
        return _csv(csvout.upcoming_csv(report))
    return _json(report.model_dump(mode="json"))
