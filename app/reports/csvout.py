"""CSV renderings of the reports (``Accept: text/csv``), one flat row per JSON row.

RFC 4180 via the csv module: CRLF line ends, a header row, fields quoted where needed. Lists are
joined with ``;``, rule counts written ``rule=n``, booleans ``true``/``false``, and a member
absent from the JSON (a ``counts`` row has no ids) is an empty field.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from app.reports.compliance import CLASS_ORDER
from app.reports.schemas import ComplianceReport, UpcomingReport, WindowSummary

__all__ = ["COMPLIANCE_COLUMNS", "UPCOMING_COLUMNS", "compliance_csv", "upcoming_csv"]

COMPLIANCE_COLUMNS: tuple[str, ...] = (
    "regime",
    "state",
    "access",
    "declaration_status",
    "declaration_id",
    "declaration_due",
    "declaration_filed_at",
    "declaration_on_time",
    "declared",
    "notified",
    "reported",
    "cancelled",
    "consistent",
    *(f"{c}_{figure}" for c in CLASS_ORDER for figure in ("declared", "notified", "reported")),
    "unannounced",
    "unannounced_ids",
    "findings",
    "finding_rules",
    "finding_ids",
    "acks_expected",
    "acks_received",
    "acks_missing",
    "ack_median_seconds",
)

UPCOMING_COLUMNS: tuple[str, ...] = (
    "section",
    "id",
    "current_id",
    "issuer",
    "regime",
    "category",
    "generic_class",
    "window_start",
    "window_end",
    "status",
    "launch_area",
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def _write(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buffer.getvalue()


def _compliance_rows(report: ComplianceReport) -> Iterable[dict[str, Any]]:
    for row in report.rows:
        declaration, launches = row.declaration, row.launches
        flat: dict[str, Any] = {
            "regime": row.regime,
            "state": row.state,
            "access": row.access,
            "declaration_status": declaration.status,
            "declaration_id": declaration.id,
            "declaration_due": declaration.due,
            "declaration_filed_at": declaration.filed_at,
            "declaration_on_time": declaration.on_time,
            "declared": launches.declared,
            "notified": launches.notified,
            "reported": launches.reported,
            "cancelled": launches.cancelled,
            "consistent": launches.consistent,
            "unannounced": row.unannounced.count,
            "unannounced_ids": None if row.unannounced.ids is None else ";".join(row.unannounced.ids),
            "findings": row.findings.notifications,
            "finding_rules": None
            if row.findings.rules is None
            else ";".join(f"{rule}={n}" for rule, n in row.findings.rules.items()),
            "finding_ids": None if row.findings.ids is None else ";".join(row.findings.ids),
            "acks_expected": row.acknowledgements.expected,
            "acks_received": row.acknowledgements.received,
            "acks_missing": row.acknowledgements.missing,
            "ack_median_seconds": row.acknowledgements.median_seconds,
        }
        if launches.by_class is not None:  # per-class cells stay empty in a counts row
            for c in CLASS_ORDER:
                figures = launches.by_class.get(c)
                for figure in ("declared", "notified", "reported"):
                    flat[f"{c}_{figure}"] = getattr(figures, figure) if figures else 0
        yield flat


def compliance_csv(report: ComplianceReport) -> str:
    return _write(COMPLIANCE_COLUMNS, _compliance_rows(report))


def _window_row(section: str, window: WindowSummary) -> dict[str, Any]:
    return {"section": section, **window.model_dump()}


def upcoming_csv(report: UpcomingReport) -> str:
    rows = [_window_row("window", w) for w in report.windows]
    rows += [_window_row("overdue_post_launch", w) for w in report.overdue_post_launch]
    return _write(UPCOMING_COLUMNS, rows)
