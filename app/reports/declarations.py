"""Annual declarations: which one is current, when it was due, and whether it came on time.

A newer declaration on the same (issuer, regime, year) supersedes the older ones; all stay in
the log. "Current" is computed when read (the latest by log index), not stored: the documents
domain owns acceptance, and a query over a handful of rows per state and year costs nothing.
It is computed over the declarations the *caller* may see, so a reader never learns from a
``superseded`` list or a changed "current" that a newer declaration it cannot read exists.

On time: the first filing decides. A state that declared before the deadline and corrects its
declaration afterwards has not declared late; ``filed_at`` still shows the current version's time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.documents import views
from app.documents.visibility import entrusted_regimes, full_access_clause
from app.regimes import repository as regimes_repository
from app.regimes import service as regimes_service
from app.reports import repository

__all__ = ["CurrentDeclaration", "deadline_end", "due_dates", "current_declarations", "list_declarations"]


@dataclass(frozen=True, slots=True)
class CurrentDeclaration:
    """The current declaration of one (issuer, regime, year) among those a reader may see."""

    id: str
    issuer: str
    regime: str
    year: int
    superseded: tuple[str, ...]
    filed_at: datetime
    first_filed_at: datetime
    due: date | None

    @property
    def on_time(self) -> bool | None:
        """Whether the first version was integrated by the end of the due day (UTC); None without a deadline."""
        if self.due is None:
            return None
        return self.first_filed_at < deadline_end(self.due)


def deadline_end(due: date) -> datetime:
    """The instant a due day ends: the deadline is the whole of that day in UTC."""
    return datetime.combine(due + timedelta(days=1), time.min, UTC)


def due_dates(session: Session, year: int) -> dict[str, date | None]:
    """The declaration due date on ``year`` of every regime (None where the regime sets none)."""
    return {
        regime.id: regimes_service.rules_of(regime).declaration_due(year)
        for regime in regimes_repository.list_regimes(session)
    }


def current_declarations(
    session: Session,
    visible: ColumnElement[bool],
    *,
    year: int | None = None,
    issuer: str | None = None,
    regimes: list[str] | None = None,
) -> list[CurrentDeclaration]:
    """The current declaration of every (issuer, regime, year) among the ``visible`` ones."""
    versions: dict[tuple[str, str, int], list[Any]] = {}
    for row in repository.declaration_versions(session, visible, year=year, issuer=issuer, regimes=regimes):
        versions.setdefault((row.issuer, row.regime, row.year), []).append(row)
    dues: dict[int, dict[str, date | None]] = {}
    out = []
    for (issuer_code, regime, declared_year), rows in sorted(versions.items()):
        if declared_year not in dues:
            dues[declared_year] = due_dates(session, declared_year)
        latest = rows[-1]  # rows come in log order
        out.append(
            CurrentDeclaration(
                id=latest.id,
                issuer=issuer_code,
                regime=regime,
                year=declared_year,
                superseded=tuple(r.id for r in rows[:-1]),
                filed_at=latest.integrated_time,
                first_filed_at=rows[0].integrated_time,
                due=dues[declared_year].get(regime),
            )
        )
    return out


def list_declarations(
    session: Session,
    principal: Principal,
    now: datetime,
    *,
    year: int | None = None,
    issuer: str | None = None,
    regime: str | None = None,
) -> list[dict[str, Any]]:
    """``GET /v1/declarations``: document views of the current declarations with their timeliness."""
    # Only what the caller reads in full: the declared year is content, not log metadata (§1).
    current = current_declarations(
        session,
        full_access_clause(principal, entrusted_regimes(session, principal)),
        year=year,
        issuer=issuer,
        regimes=[regime] if regime else None,
    )
    documents = repository.documents_by_id(session, (c.id for c in current))
    out = []
    for declaration in current:
        out.append(
            {
                **views.full_view(session, documents[declaration.id], now),
                "year": declaration.year,
                "superseded": list(declaration.superseded),
                "filed_at": views.iso(declaration.filed_at),
                "first_filed_at": views.iso(declaration.first_filed_at),
                "due": declaration.due.isoformat() if declaration.due else None,
                "on_time": declaration.on_time,
            }
        )
    return out
