"""FastAPI dependencies: settings, the request's database session, the calling participant."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.service import Principal
from app.config import Settings
from app.db import session_scope
from app.ops import ratelimit

logger = logging.getLogger("lnx.auth")

__all__ = [
    "SettingsDep",
    "SessionDep",
    "ReadSessionDep",
    "CurrentPrincipal",
    "require",
    "OperatorDep",
    "ReaderDep",
]


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (``scope="function"``)."""
    yield from session_scope(request.app.state.sessionmaker)


def get_read_session(request: Request) -> Iterator[Session]:
    """A read-only transaction: on SQLite a deferred BEGIN that does not queue behind writers."""
    yield from session_scope(request.app.state.sessionmaker, read_only=True)


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


def get_principal(request: Request, settings: SettingsDep) -> Principal:
    factory = request.app.state.sessionmaker
    # Authentication reads in its own short transaction, so it does not decide the request's
    # transaction type; the last-used time is written separately and only when stale.
    for session in session_scope(factory, read_only=True):
        principal = auth_service.authenticate(
            session,
            request.headers.get("authorization"),
            last_used_resolution_s=settings.token_last_used_resolution_s,
        )
    if principal.last_used_stale:
        try:
            for session in session_scope(factory):
                auth_service.touch_token(session, principal.token_id)
        except SQLAlchemyError:
            # Best effort: a busy writer must never turn an authenticated read into a 500.
            logger.warning("could not record the token's last use", extra={"token_id": principal.token_id})
    request.state.participant = principal.code
    # Per-token limit (429 + Retry-After); counted after authentication so only real tokens fill it.
    ratelimit.check(request.app.state, settings, principal.token_id)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(scope: str, *roles: str) -> Callable[[Principal], Principal]:
    """A dependency that admits a principal whose token has ``scope`` and whose role is in ``roles``."""

    def dependency(principal: CurrentPrincipal) -> Principal:
        principal.require(scope, roles or None)
        return principal

    return dependency


OperatorDep = Annotated[Principal, Depends(require("admin", "operator"))]
ReaderDep = Annotated[Principal, Depends(require("read"))]
