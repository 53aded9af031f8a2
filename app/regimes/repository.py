"""Queries of regimes and their memberships."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from app.db import KeyedRead
from app.regimes.models import Regime, RegimeAuditor, RegimeMembership

__all__ = [
    "get_regime",
    "regimes_read",
    "RegimeRules",
    "regimes_and_members",
    "list_regimes",
    "active_membership",
    "member_codes",
    "auditor_codes",
    "regimes_of",
    "member_at",
    "membership_active_at",
]


def get_regime(session: Session, regime_id: str) -> Regime | None:
    return session.get(Regime, regime_id)


def membership_active_at(when: Any) -> ColumnElement[bool]:
    """SQL on ``RegimeMembership``: a period that had begun, and not yet ended, at ``when``."""
    return and_(
        RegimeMembership.joined_at <= when,
        or_(RegimeMembership.left_at.is_(None), RegimeMembership.left_at > when),
    )


def member_at(code: Any, regime: Any, when: Any) -> ColumnElement[bool]:
    """SQL: ``code`` was a member of ``regime`` at ``when`` (values or correlated columns).

    The membership history keeps every period (leaving closes it, rejoining opens another), so
    "the members at the time" of a ``["*"]`` document needs no copy of the member list.
    """
    return exists().where(
        RegimeMembership.regime_id == regime,
        RegimeMembership.participant_code == code,
        membership_active_at(when),
    )


# Built once: the submission batch runs it every time (see ``app.documents.repository``). The
# current members come along as one aggregated string per regime (string_agg on PostgreSQL,
# group_concat on SQLite): one statement instead of two. A participant code never holds a comma
# (``app.participants.codes``: ISO 3166-1 alpha-3, or 3-16 of A-Z, 0-9 and _).
_member_codes = (
    select(func.aggregate_strings(RegimeMembership.participant_code, ","))
    .where(RegimeMembership.regime_id == Regime.id, RegimeMembership.left_at.is_(None))
    .scalar_subquery()
)
regimes_read = KeyedRead(
    select(Regime.id, Regime.rules, Regime.sources, Regime.boundary, _member_codes.label("member_codes")),
    Regime.id,
    "ids",
)
"""Regimes with what a submission's rules read, and their current members, by a list of ids
(a submission batch's read, sent with the others of ``app.db.read_together``)."""


@dataclass(frozen=True, slots=True)
class RegimeRules:
    """A regime as a submission batch reads it (plain values: loading entities cost a batch about
    three times the query)."""

    id: str
    rules: Any
    sources: Any
    boundary: Any


def regimes_and_members(
    rows: list[dict[str, Any]], regime_ids: set[str]
) -> tuple[dict[str, RegimeRules], dict[str, set[str]]]:
    """``regimes_read``'s rows as regimes by id and member sets; every asked regime has a member set."""
    regimes: dict[str, RegimeRules] = {}
    members: dict[str, set[str]] = {r: set() for r in regime_ids}
    for row in rows:
        codes = row.pop("member_codes")
        regimes[row["id"]] = RegimeRules(**row)
        members[row["id"]] = set(codes.split(",")) if codes else set()
    return regimes, members


def list_regimes(session: Session) -> list[Regime]:
    return list(session.scalars(select(Regime).order_by(Regime.id)))


def active_membership(session: Session, regime_id: str, code: str) -> RegimeMembership | None:
    return session.scalars(
        select(RegimeMembership).where(
            RegimeMembership.regime_id == regime_id,
            RegimeMembership.participant_code == code,
            RegimeMembership.left_at.is_(None),
        )
    ).first()


def member_codes(session: Session, regime_id: str) -> list[str]:
    return list(
        session.scalars(
            select(RegimeMembership.participant_code)
            .where(RegimeMembership.regime_id == regime_id, RegimeMembership.left_at.is_(None))
            .order_by(RegimeMembership.participant_code)
        )
    )


def auditor_codes(session: Session, regime_id: str) -> list[str]:
    return list(
        session.scalars(
            select(RegimeAuditor.participant_code)
            .where(RegimeAuditor.regime_id == regime_id)
            .order_by(RegimeAuditor.participant_code)
        )
    )


def regimes_of(session: Session, code: str) -> list[str]:
    return list(
        session.scalars(
            select(RegimeMembership.regime_id).where(
                RegimeMembership.participant_code == code, RegimeMembership.left_at.is_(None)
            )
        )
    )
