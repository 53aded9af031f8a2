"""The compliance report (CONTRACT §4): per regime and member state, for one year.

For every member state of a regime: the annual declaration (filed? on time?), launches declared
per generic class beside the notifications and post-launch reports on record, launches reported
without any prior notification, notifications with findings, and acknowledgements received
against those expected with the median time to acknowledge.

Who sees what (``docs/reports.md``): every figure is computed from the documents selected by a
clause of :mod:`app.documents.visibility`. A state's own row is complete; other states' rows
are built only from their documents the caller may read (``visible``). The operator and the
auditors a regime does not entrust receive aggregate counts over every document of the regime
(``counts``), with no ids, no rule ids and no per-class breakdown, since a class or a rule is
content. An auditor the regime entrusts reads everything of it and gets ``full`` rows.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, get_args

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.documents.payloads import GenericClass
from app.documents.visibility import entrusted_regimes, full_access_clause
from app.errors import NotFound
from app.regimes import repository as regimes_repository
from app.reports import declarations, repository
from app.reports.declarations import CurrentDeclaration
from app.reports.schemas import (
    AcknowledgementFigures,
    ClassFigures,
    ComplianceReport,
    ComplianceRow,
    DeclarationStatus,
    FindingFigures,
    LaunchFigures,
    RowAccess,
    Unannounced,
)

__all__ = ["compliance_report", "CLASS_ORDER"]

#: Generic classes in the order of the payload schema (CONTRACT §2), for stable output.
CLASS_ORDER: tuple[str, ...] = get_args(GenericClass)


@dataclass
class _Tally:
    """Everything counted for one state in one regime and year, from the documents selected."""

    declaration: CurrentDeclaration | None = None
    declared: Counter[str] = field(default_factory=Counter)
    notified: Counter[str] = field(default_factory=Counter)
    reported: Counter[str] = field(default_factory=Counter)
    cancelled: int = 0
    unannounced: list[str] = field(default_factory=list)
    finding_rules: dict[str, set[str]] = field(default_factory=dict)  # chain id -> rule ids
    expected: int = 0
    received: int = 0
    delays: list[float] = field(default_factory=list)


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def _tally(session: Session, visible: ColumnElement[bool], regime: str, year: int) -> dict[str, _Tally]:
    """Count, per issuing state, what the ``visible`` documents of ``regime`` say about ``year``."""
    start, end = _year_bounds(year)
    tallies: dict[str, _Tally] = {}

    def of(issuer: str) -> _Tally:
        return tallies.setdefault(issuer, _Tally())

    current = declarations.current_declarations(session, visible, year=year, regimes=[regime])
    payloads = repository.documents_by_id(session, (d.id for d in current))
    for declaration in current:
        tally = of(declaration.issuer)
        tally.declaration = declaration
        for item in payloads[declaration.id].payload.get("launches", []):
            tally.declared[item["generic_class"]] += int(item["count"])

    for chain in repository.year_chains(session, visible, regime, start, end):
        if chain.status == "cancelled":
            of(chain.issuer).cancelled += 1
        else:
            of(chain.issuer).notified[chain.vehicle_class or "other"] += 1

    for report in repository.post_launch_reports(session, visible, regime, year):
        tally = of(report.issuer)
        tally.reported[report.vehicle_class or "other"] += 1
        if report.references_id is None:
            tally.unannounced.append(report.id)

    notifications = {n.id: n for n in repository.year_notifications(session, visible, regime, start, end)}
    for notification in notifications.values():
        rules = {f["rule"] for f in notification.findings or []}
        if rules:
            of(notification.issuer).finding_rules.setdefault(notification.chain_id, set()).update(rules)
    # Under READ COMMITTED each query sees its own snapshot: a notification accepted between
    # them is left for the next report rather than counted half.
    for document_id, count in repository.recipient_counts(session, visible, regime, start, end).items():
        if document_id in notifications:
            of(notifications[document_id].issuer).expected += count
    for references_id, acknowledged_at in repository.acknowledgements_of(
        session, visible, regime, start, end
    ):
        notification = notifications.get(references_id)
        if notification is None:
            continue
        tally = of(notification.issuer)
        tally.received += 1
        tally.delays.append((acknowledged_at - notification.integrated_time).total_seconds())
    return tallies


def _declaration_status(
    declaration: CurrentDeclaration | None, due: date | None, now: datetime, counts_only: bool
) -> DeclarationStatus:
    if declaration is None:
        if due is None:
            return DeclarationStatus(status="none", due=None, on_time=None)
        ahead = now < declarations.deadline_end(due)
        return DeclarationStatus(status="due" if ahead else "missing", due=due, on_time=None)
    on_time = declaration.on_time
    status = "filed" if on_time is None else ("on-time" if on_time else "late")
    if counts_only:
        return DeclarationStatus(status=status, due=due, on_time=on_time)
    return DeclarationStatus(
        status=status,
        due=due,
        on_time=on_time,
        id=declaration.id,
        filed_at=declaration.filed_at,
        first_filed_at=declaration.first_filed_at,
        superseded=list(declaration.superseded),
    )


def _launches(tally: _Tally, counts_only: bool) -> LaunchFigures:
    declared = tally.declaration is not None
    classes = [c for c in CLASS_ORDER if tally.declared[c] or tally.notified[c] or tally.reported[c]]
    by_class = {
        c: ClassFigures(
            declared=tally.declared[c],
            notified=tally.notified[c],
            reported=tally.reported[c],
            matches=(tally.declared[c] == tally.reported[c]) if declared else None,
        )
        for c in classes
    }
    figures: dict[str, Any] = {
        "declared": sum(tally.declared.values()),
        "notified": sum(tally.notified.values()),
        "reported": sum(tally.reported.values()),
        "cancelled": tally.cancelled,
        "consistent": all(f.matches for f in by_class.values()) if declared else None,
    }
    if not counts_only:
        figures["by_class"] = by_class
    return LaunchFigures(**figures)


def _row(
    regime: str, state: str, access: RowAccess, tally: _Tally, due: date | None, now: datetime
) -> ComplianceRow:
    counts_only = access == "counts"
    rule_counts = Counter(rule for rules in tally.finding_rules.values() for rule in rules)
    median = round(statistics.median(tally.delays), 3) if tally.delays else None
    unannounced: dict[str, Any] = {"count": len(tally.unannounced)}
    findings: dict[str, Any] = {"notifications": len(tally.finding_rules)}
    if not counts_only:
        unannounced["ids"] = list(tally.unannounced)
        findings["rules"] = dict(sorted(rule_counts.items()))
        findings["ids"] = sorted(tally.finding_rules)
    return ComplianceRow(
        regime=regime,
        state=state,
        access=access,
        declaration=_declaration_status(tally.declaration, due, now, counts_only),
        launches=_launches(tally, counts_only),
        unannounced=Unannounced(**unannounced),
        findings=FindingFigures(**findings),
        acknowledgements=AcknowledgementFigures(
            expected=tally.expected,
            received=tally.received,
            missing=tally.expected - tally.received,
            median_seconds=median,
        ),
    )


def _regimes_in_scope(session: Session, principal: Principal, regime: str | None) -> list[str]:
    """Every regime for the operator and auditors; the caller's own regimes for states and observers."""
    known = [r.id for r in regimes_repository.list_regimes(session)]
    if regime is not None and regime not in known:
        raise NotFound(f"no regime {regime}", code="regime-not-found")
    if principal.role in ("operator", "auditor"):
        scope = known
    else:
        scope = sorted(regimes_repository.regimes_of(session, principal.code))
    return [r for r in scope if regime is None or r == regime]


def compliance_report(
    session: Session, principal: Principal, *, year: int, regime: str | None, now: datetime
) -> ComplianceReport:
    """``GET /v1/reports/compliance``: one row per (regime, member state), as the caller may see it."""
    entrusted = entrusted_regimes(session, principal)
    readable = full_access_clause(principal, entrusted)
    dues = declarations.due_dates(session, year)
    scope = _regimes_in_scope(session, principal, regime)
    rows = []
    for regime_id in scope:
        counts_only = principal.role == "operator" or (
            principal.role == "auditor" and regime_id not in entrusted
        )
        tallies = _tally(session, true() if counts_only else readable, regime_id, year)
        for state in repository.member_states(session, regime_id):
            access: RowAccess
            if counts_only:
                access = "counts"
            elif principal.role == "auditor" or state == principal.code:
                access = "full"
            else:
                access = "visible"
            rows.append(
                _row(regime_id, state, access, tallies.get(state, _Tally()), dues.get(regime_id), now)
            )
    return ComplianceReport(
        year=year,
        generated_at=now,
        viewer=principal.code,
        deadlines={r: dues.get(r) for r in scope},
        rows=rows,
    )
