"""FastAPI dependencies: settings, the request's database session, the calling participant."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.auth import cache as auth_cache
from app.auth import service as auth_service
from app.auth.service import Principal
from app.auth.tokens import hash_token
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


async def get_settings_dep(request: Request) -> Settings:
    # async: a plain attribute read needs no trip through the thread pool
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


def _auth_cache(request: Request, settings: Settings) -> auth_cache.AuthCache:
    state = request.app.state
    cache = getattr(state, "auth_cache", None)
    if cache is None:
        cache = state.auth_cache = auth_cache.AuthCache(settings.auth_cache_ttl_s)
    return cache


def _authenticate(
    factory: sessionmaker[Session], settings: Settings, cache: auth_cache.AuthCache, token_hash: str
) -> Principal:
    """The database path (thread pool): look the token up, record its use if stale, cache it."""
    epoch = auth_cache.current_epoch()  # before the read: a change meanwhile voids the entry
    # Authentication reads in its own short transaction, so it does not decide the request's
    # transaction type; the last-used time is written separately and only when stale.
    for session in session_scope(factory, read_only=True):
        principal, expires_at = auth_service.authenticate_hash(
            session, token_hash, last_used_resolution_s=settings.token_last_used_resolution_s
        )
    if principal.last_used_stale:
        _touch(factory, principal.token_id)
    cache.put(
        token_hash,
        dataclasses.replace(principal, last_used_stale=False),
        expires_at,
        epoch=epoch,
        touch_every_s=settings.token_last_used_resolution_s,
    )
    return principal


def _touch(factory: sessionmaker[Session], token_id: str) -> None:
    try:
        for session in session_scope(factory):
            auth_service.touch_token(session, token_id)
    except SQLAlchemyError:
        # Best effort: a busy writer must never turn an authenticated read into a 500.
        logger.warning("could not record the token's last use", extra={"token_id": token_id})


async def get_principal(request: Request) -> Principal:
    """The caller: from the short-lived in-process cache when possible, else from the database.

    ``async`` so that a cached token costs no trip through the thread pool; the database work of a
    miss runs there. The token's expiry is checked against the cached record on every request.
    """
    # ``request.state`` is a view of this dict; read and written directly, a miss costs no exception.
    state = request.scope.setdefault("state", {})
    cached = state.get("principal")
    if cached is not None:  # already authenticated for this request (several dependencies ask)
        return cached
    settings: Settings = request.app.state.settings
    token_hash = hash_token(auth_service.bearer_token(request.headers.get("authorization")))
    cache = _auth_cache(request, settings)
    factory = request.app.state.sessionmaker
    entry = cache.get(token_hash)
    if entry is None:
        principal = await run_in_threadpool(_authenticate, factory, settings, cache, token_hash)
    else:
        if entry.expires_ts is not None and entry.expires_ts <= time.time():
            raise auth_service.token_expired()
        principal = entry.principal
        now = time.monotonic()
        if now >= entry.touch_after:  # one process records a token's use at most once an interval
            entry.touch_after = now + settings.token_last_used_resolution_s
            await run_in_threadpool(_touch, factory, principal.token_id)
    state["participant"] = principal.code
    state["principal"] = principal
    # Per-token limit (429 + Retry-After); counted after authentication so only real tokens fill it.
    ratelimit.check(request.app.state, settings, principal.token_id)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(scope: str, *roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that admits a principal whose token has ``scope`` and whose role is in ``roles``."""

    # One flat dependency (not one on top of ``CurrentPrincipal``): each level of FastAPI's
    # dependency tree costs as much per request as the whole cached authentication.
    async def dependency(request: Request) -> Principal:
        principal = await get_principal(request)
        principal.require(scope, roles or None)
        return principal

    return dependency


OperatorDep = Annotated[Principal, Depends(require("admin", "operator"))]
ReaderDep = Annotated[Principal, Depends(require("read"))]
