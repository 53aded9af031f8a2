"""Queries of regimes and their memberships."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.regimes.models import Regime, RegimeAuditor, RegimeMembership

__all__ = [
    "get_regime",
    "get_regimes",
    "members_of",
    "list_regimes",
    "active_membership",
    "member_codes",
    "auditor_codes",
    "regimes_of",
]


def get_regime(session: Session, regime_id: str) -> Regime | None:
    return session.get(Regime, regime_id)


# Built once: the submission batch runs both every time (see ``app.documents.repository``).
_REGIMES_BY_ID = select(Regime).where(Regime.id.in_(bindparam("ids", expanding=True)))
_MEMBERS_OF = select(RegimeMembership.regime_id, RegimeMembership.participant_code).where(
    RegimeMembership.regime_id.in_(bindparam("ids", expanding=True)), RegimeMembership.left_at.is_(None)
)


def get_regimes(session: Session, regime_ids: set[str]) -> dict[str, Regime]:
    if not regime_ids:
        return {}
    return {r.id: r for r in session.scalars(_REGIMES_BY_ID, {"ids": list(regime_ids)})}


def members_of(session: Session, regime_ids: set[str]) -> dict[str, set[str]]:
    """Current members of several regimes in one query; every asked regime has an entry."""
    out: dict[str, set[str]] = {r: set() for r in regime_ids}
    if regime_ids:
        rows = session.execute(_MEMBERS_OF, {"ids": list(regime_ids)})
        for regime_id, code in rows:
            out[regime_id].add(code)
    return out


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
