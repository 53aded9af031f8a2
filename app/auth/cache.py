"""A short-lived, in-process cache of authenticated tokens: token hash → principal.

Why: without it every request looks its bearer token up in the database (and a hot read path
such as polling an up-to-date feed cursor costs mostly that lookup). With it, a token is read
from the database at most once per ``ttl_s`` per process.

What stays exact on every request, from the cached record: the token's expiry (checked against
the clock each time), its scopes and its participant's role (the principal carries them; the
route's scope/role check runs as before).

What may lag, and by how much (``docs/decisions.md``, "A short-lived authentication cache"):

- in the process that makes the change, nothing: any write to ``api_tokens`` or
  ``participants`` through a SQLAlchemy session (revocation, deactivation, a changed expiry or
  role; ORM flushes and ``update()``/``delete()`` statements alike) empties every cache of the
  process at once *and again after the commit*, so a request that read the old row meanwhile
  cannot put it back (entries carry the invalidation epoch they were read under);
- in other processes (other uvicorn workers, a CLI on the same database), at most ``ttl_s``.

Writes of a token's last-used time (``touch_token``) are marked and do not invalidate anything.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

if TYPE_CHECKING:
    from app.auth.service import Principal

__all__ = ["AuthCache", "CachedToken", "invalidate_all", "current_epoch", "TOUCH_OPTION"]

TOUCH_OPTION = "lnx_auth_touch"
"""Execution option marking a last-used update, which must not empty the caches."""
_WATCHED_TABLES = frozenset({"api_tokens", "participants"})
_DIRTY_KEY = "lnx_auth_dirty"
_MAX_ENTRIES = 10_000

_lock = threading.Lock()
_epoch = 0


def current_epoch() -> int:
    return _epoch


def invalidate_all() -> None:
    """Forget every cached token in this process (every cache compares entries with the epoch)."""
    global _epoch
    with _lock:
        _epoch += 1


@dataclass(slots=True)
class CachedToken:
    principal: Principal
    expires_ts: float | None
    """The token's expiry (POSIX seconds), checked on every hit."""
    epoch: int
    fresh_until: float
    """``time.monotonic()`` after which the database is asked again."""
    touch_after: float
    """``time.monotonic()`` after which a hit records the token's use again (best effort)."""


class AuthCache:
    """Token hash → :class:`CachedToken` for ``ttl_s`` seconds; one per application."""

    def __init__(self, ttl_s: float, *, max_entries: int = _MAX_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, CachedToken] = {}

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def get(self, token_hash: str) -> CachedToken | None:
        """The cached entry if it is still fresh and no invalidation happened since it was read."""
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry.epoch != _epoch or time.monotonic() >= entry.fresh_until:
            self._entries.pop(token_hash, None)
            return None
        return entry

    def put(
        self,
        token_hash: str,
        principal: Principal,
        expires_at: datetime | None,
        *,
        epoch: int,
        touch_every_s: float,
    ) -> None:
        """Remember a principal read from the database under ``epoch`` (taken *before* the read)."""
        if not self.enabled or epoch != _epoch:
            return  # something changed while we read: the next request reads again
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # bounded memory; a refill costs one query per token
        now = time.monotonic()
        self._entries[token_hash] = CachedToken(
            principal=principal,
            expires_ts=expires_at.timestamp() if expires_at is not None else None,
            epoch=epoch,
            fresh_until=now + self.ttl_s,
            touch_after=now + touch_every_s,
        )

    def __len__(self) -> int:
        return len(self._entries)


# --- invalidation: any write to tokens or participants through a session ---------------------------


def _mark(session: Session) -> None:
    session.info[_DIRTY_KEY] = True
    invalidate_all()


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete) or state.execution_options.get(TOUCH_OPTION):
        return
    table: Any = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _WATCHED_TABLES:
        _mark(state.session)


@event.listens_for(Session, "after_flush")
def _on_flush(session: Session, _flush: UOWTransaction) -> None:
    for obj in (*session.dirty, *session.deleted):
        if getattr(obj, "__tablename__", None) in _WATCHED_TABLES:
            _mark(session)
            return


@event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    # Again after the commit: a request that read the old row between the flush and the commit
    # stored it under the epoch of the flush, which this makes stale.
    if session.info.pop(_DIRTY_KEY, False):
        invalidate_all()


@event.listens_for(Session, "after_soft_rollback")
def _on_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_DIRTY_KEY, None)
