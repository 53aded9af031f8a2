"""HTTP routes of regimes (agreement profiles)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.deps import OperatorDep, ReaderDep, ReadSessionDep, SessionDep
from app.regimes import repository
from app.regimes import service as regimes_service
from app.regimes.schemas import BoundaryIn, MembershipChange, RegimeOut, RegimeUpdate

router = APIRouter(prefix="/v1/regimes", tags=["regimes"])


@router.get("", response_model=list[RegimeOut])
def list_regimes(session: ReadSessionDep, _p: ReaderDep) -> Any:
    """Every regime with its members, auditors and rules."""
    return [regimes_service.regime_out(session, r) for r in repository.list_regimes(session)]


@router.get("/{regime_id}", response_model=RegimeOut)
def get_regime(regime_id: str, session: ReadSessionDep, _p: ReaderDep) -> Any:
    """One regime."""
    return regimes_service.regime_out(session, regimes_service.get_regime(session, regime_id))


@router.patch("/{regime_id}", response_model=RegimeOut)
def update_regime(regime_id: str, body: RegimeUpdate, session: SessionDep, _op: OperatorDep) -> Any:
    """Edit a regime's name, description or rules (operator)."""
    return regimes_service.regime_out(session, regimes_service.update_regime(session, regime_id, body))


@router.post("/{regime_id}/members", response_model=RegimeOut)
def join(regime_id: str, body: MembershipChange, session: SessionDep, _op: OperatorDep) -> Any:
    """Add a member (operator)."""
    return regimes_service.regime_out(session, regimes_service.join(session, regime_id, body.participant))


@router.delete("/{regime_id}/members/{code}", response_model=RegimeOut)
def leave(regime_id: str, code: str, session: SessionDep, _op: OperatorDep) -> Any:
    """End a membership; its history is kept (operator)."""
    return regimes_service.regime_out(session, regimes_service.leave(session, regime_id, code))


@router.post("/{regime_id}/auditors", response_model=RegimeOut)
def add_auditor(regime_id: str, body: MembershipChange, session: SessionDep, _op: OperatorDep) -> Any:
    """Entrust an auditor with the regime's documents (operator)."""
    return regimes_service.regime_out(
        session, regimes_service.add_auditor(session, regime_id, body.participant)
    )


@router.delete("/{regime_id}/auditors/{code}", response_model=RegimeOut)
def remove_auditor(regime_id: str, code: str, session: SessionDep, _op: OperatorDep) -> Any:
    """Withdraw an auditor (operator)."""
    return regimes_service.regime_out(session, regimes_service.remove_auditor(session, regime_id, code))


@router.put("/{regime_id}/boundary", response_model=RegimeOut)
def set_boundary(regime_id: str, body: BoundaryIn, session: SessionDep, _op: OperatorDep) -> Any:
    """Load the boundary geometry the keep-out rules measure from (operator)."""
    return regimes_service.regime_out(
        session, regimes_service.set_boundary(session, regime_id, body.geometry)
    )
