"""Bodies of the reports endpoints (documented field by field in ``docs/reports.md``).

A member left ``None`` is omitted from the JSON (``exclude_none``): a ``counts`` row carries no
ids, no rule ids and no per-class figures, so those members are simply absent.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

__all__ = [
    "RowAccess",
    "DeclarationStatus",
    "ClassFigures",
    "LaunchFigures",
    "Unannounced",
    "FindingFigures",
    "AcknowledgementFigures",
    "ComplianceRow",
    "ComplianceReport",
    "WindowSummary",
    "UpcomingReport",
]

#: ``full``: every document of the row is readable by the caller; ``visible``: built only from the
#: documents of that state the caller may read; ``counts``: aggregate counts over every document.
RowAccess = Literal["full", "visible", "counts"]


class DeclarationStatus(BaseModel):
    #: on-time / late (a deadline applies), filed (none applies), due (not filed, deadline ahead),
    #: missing (not filed, deadline passed), none (not filed, and the regime sets no deadline).
    status: Literal["on-time", "late", "filed", "due", "missing", "none"]
    due: date | None = None
    on_time: bool | None = None
    id: str | None = None
    filed_at: datetime | None = None
    first_filed_at: datetime | None = None
    superseded: list[str] | None = None


class ClassFigures(BaseModel):
    declared: int = 0
    notified: int = 0
    reported: int = 0
    matches: bool | None = None


class LaunchFigures(BaseModel):
    declared: int
    notified: int
    reported: int
    cancelled: int
    #: every declared class equals the post-launch reports of that class; None with no declaration.
    consistent: bool | None
    by_class: dict[str, ClassFigures] | None = None


class Unannounced(BaseModel):
    count: int
    ids: list[str] | None = None


class FindingFigures(BaseModel):
    notifications: int
    rules: dict[str, int] | None = None
    ids: list[str] | None = None


class AcknowledgementFigures(BaseModel):
    expected: int
    received: int
    missing: int
    median_seconds: float | None


class ComplianceRow(BaseModel):
    regime: str
    state: str
    access: RowAccess
    declaration: DeclarationStatus
    launches: LaunchFigures
    unannounced: Unannounced
    findings: FindingFigures
    acknowledgements: AcknowledgementFigures


class ComplianceReport(BaseModel):
    year: int
    generated_at: datetime
    viewer: str
    deadlines: dict[str, date | None]
    rows: list[ComplianceRow]


class WindowSummary(BaseModel):
    id: str
    current_id: str
    issuer: str
    regime: str
    category: str | None
    generic_class: str | None
    window_start: datetime | None
    window_end: datetime | None
    status: str
    launch_area: str | None


class UpcomingReport(BaseModel):
    generated_at: datetime
    days: int
    windows: list[WindowSummary]
    overdue_post_launch: list[WindowSummary]
