"""Opaque API tokens: ``lnx_`` + 256 random bits, stored only as their SHA-256.

A fast hash is enough here: the token carries 256 bits of entropy, so there is nothing for a slow
password hash to protect against, and lookups stay one indexed query.
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["TOKEN_PREFIX", "SCOPES", "new_token", "hash_token", "new_token_id", "parse_scopes"]

TOKEN_PREFIX = "lnx_"
SCOPES = ("read", "submit", "admin")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_token_id() -> str:
    return "tok_" + secrets.token_hex(8)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_scopes(value: str | list[str]) -> list[str]:
    """Validated, de-duplicated scopes in canonical order; ValueError names a bad one."""
    items = value.split(",") if isinstance(value, str) else list(value)
    wanted = {s.strip() for s in items if s.strip()}
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r}; scopes are read, submit, admin")
    if not wanted:
        raise ValueError("at least one scope is required")
    return [s for s in SCOPES if s in wanted]
