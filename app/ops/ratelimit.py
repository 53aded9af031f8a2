"""Per-token rate limits: a token bucket per API token, in process memory.

Why in memory: a shared store (a row per token in PostgreSQL) would add one write to every
request, and one durable ORM write costs as much as the whole read path (``LIMITS.md``). The
price is that with N server processes each keeps its own buckets, so a token may make up to N
times the configured rate; ``docs/operations.md`` explains how to set the limit per process, or
to enforce one global limit at the reverse proxy (nginx ``limit_req`` keyed on the token).

The limiter is consulted after authentication (``app.deps.get_principal``), so it is keyed by the
token's id and an unauthenticated flood is answered 401 before it can fill the table.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.config import Settings
from app.errors import TooManyRequests

__all__ = ["TokenBucketLimiter", "RateLimited", "limiter_for", "check"]

_create_lock = threading.Lock()


class RateLimited(TooManyRequests):
    """429 problem with ``Retry-After`` (whole seconds, RFC 9110 §10.2.3)."""

    def __init__(self, retry_after_s: float, limit_per_minute: int) -> None:
        seconds = max(1, math.ceil(retry_after_s))
        super().__init__(
            f"this token may make {limit_per_minute} requests per minute; retry after {seconds} s",
            headers={"Retry-After": str(seconds)},
            extra={"retry_after": seconds, "limit_per_minute": limit_per_minute},
        )


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """``rate_per_minute`` requests per key on average, bursts of up to ``burst`` at once.

    Thread-safe (sync dependencies run in the thread pool). Idle buckets are forgotten after they
    have refilled, so memory follows the number of recently active tokens, not of all tokens.
    """

    def __init__(
        self, rate_per_minute: int, burst: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be positive; 0 means no limiter at all")
        self.rate_per_minute = rate_per_minute
        self.rate_per_s = rate_per_minute / 60.0
        self.burst = float(burst or rate_per_minute)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def acquire(self, key: str) -> float:
        """Take one request from ``key``'s bucket: 0.0 if allowed, else the seconds until it would be."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            else:
                bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate_per_s)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                allowed = 0.0
            else:
                allowed = (1.0 - bucket.tokens) / self.rate_per_s
            self._maybe_sweep(now)
        return allowed

    def _maybe_sweep(self, now: float) -> None:
        # A bucket idle long enough to be full again carries no information: drop it.
        refill_s = self.burst / self.rate_per_s
        if now - self._last_sweep < max(60.0, refill_s):
            return
        self._last_sweep = now
        stale = [k for k, b in self._buckets.items() if now - b.updated >= refill_s]
        for key in stale:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def limiter_for(state: object, settings: Settings) -> TokenBucketLimiter | None:
    """The app's limiter (created on first use and kept on ``app.state``); ``None`` when limits are off."""
    if settings.rate_limit_per_minute <= 0:
        return None
    limiter = getattr(state, "rate_limiter", None)
    if limiter is None:
        with _create_lock:
            limiter = getattr(state, "rate_limiter", None)
            if limiter is None:
                limiter = TokenBucketLimiter(
                    settings.rate_limit_per_minute, settings.rate_limit_burst or None
                )
                state.rate_limiter = limiter  # type: ignore[attr-defined]
    return limiter


def check(state: object, settings: Settings, token_id: str) -> None:
    """Count one request of ``token_id``; raise :class:`RateLimited` (429) when its bucket is empty."""
    limiter = limiter_for(state, settings)
    if limiter is None:
        return
    wait_s = limiter.acquire(token_id)
    if wait_s > 0:
        raise RateLimited(wait_s, limiter.rate_per_minute)
