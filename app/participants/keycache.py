"""Signing keys by kid, held briefly in memory for the submit path's first check.

Why a cache is safe here: a kid is the RFC 7638 thumbprint of the key, so the material behind a
kid never changes; only its validity can (revocation, expiry). The submit path checks a key twice:
once before the write transaction (``intake.verify``, which this cache serves) and once inside it
(``documents.service.accept_batch`` re-reads every key of its batch). A stale entry can therefore
only let a submission reach the second check, which refuses it with the same problem; it can never
get a document stored under a revoked key. Entries expire after ``ttl_s`` so that such refusals
normally come early, and unknown kids are not cached, so a newly registered key works at once.

The cache saves each submission a database round trip and a JWK parse.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from lnx_client.core import jwk as core_jwk
from lnx_client.core.jwk import PublicJwk
from sqlalchemy.orm import Session, sessionmaker

from app.db import session_scope
from app.participants import repository
from app.participants.models import ParticipantKey, key_valid_at

__all__ = ["SigningKey", "KeyCache"]


@dataclass(frozen=True, slots=True)
class SigningKey:
    """What the signature check needs of a registered key, with the JWK already parsed."""

    kid: str
    participant_code: str
    public: PublicJwk
    not_before: datetime
    not_after: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ParticipantKey) -> SigningKey:
        return cls(
            row.kid,
            row.participant_code,
            core_jwk.parse_public_jwk(row.jwk),
            row.not_before,
            row.not_after,
            row.revoked_at,
        )

    def is_valid_at(self, when: datetime) -> bool:
        return key_valid_at(self.not_before, self.not_after, self.revoked_at, when)


class KeyCache:
    """A bounded LRU of ``SigningKey`` by kid, each entry fresh for ``ttl_s`` seconds."""

    def __init__(self, factory: sessionmaker[Session], *, ttl_s: float, max_entries: int = 10_000) -> None:
        self._factory = factory
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, SigningKey]] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, kid: str) -> SigningKey | None:
        """The key if a fresh entry holds it (no I/O: safe on the event loop)."""
        with self._lock:
            entry = self._entries.get(kid)
            if entry is None:
                return None
            if time.monotonic() - entry[0] > self._ttl_s:
                del self._entries[kid]
                return None
            self._entries.move_to_end(kid)
            return entry[1]

    def load(self, kid: str) -> SigningKey | None:
        """Read the key from the database (blocking) and remember it if it exists."""
        for session in session_scope(self._factory, read_only=True):
            row = repository.get_key(session, kid)
            key = SigningKey.of(row) if row is not None else None
        if key is not None and self._ttl_s > 0:
            with self._lock:
                self._entries[kid] = (time.monotonic(), key)
                self._entries.move_to_end(kid)
                while len(self._entries) > self._max_entries:
                    self._entries.popitem(last=False)
        return key
