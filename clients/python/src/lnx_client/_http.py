"""The HTTP plumbing shared by ``Client`` and ``AsyncClient``: request descriptions, retries, errors.

Each endpoint is described once as a :class:`Call` (method, path, parameters, body, how to parse
the answer, whether it is idempotent); the sync and async clients only *execute* calls, so the
two never drift apart. The retry decisions live in :class:`Attempts`, which both loops consult.

Retries (exponential back-off with full jitter, AWS Architecture Blog "Exponential Backoff And
Jitter"; ``Retry-After`` honoured, RFC 9110 §10.2.3):

- ``429 Too Many Requests``: always retried, the request was refused before any work was done;
- ``503 Service Unavailable`` and transport errors: retried for idempotent requests only (reads,
  ``PUT``/``DELETE``, and the POSTs that are idempotent by design: submitting a document, sending
  a cosignature); a non-idempotent request is retried only when the connection was never made.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import httpx

from .errors import LnxApiError, LnxConnectionError

__all__ = ["Attempts", "Call", "RetryPolicy", "USER_AGENT", "raise_for_problem"]

T = TypeVar("T")
USER_AGENT = "lnx-client/0.1"
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a request is retried (see the module docstring for *when*)."""

    max_attempts: int = 5
    backoff: float = 0.5
    """Cap of the first delay in seconds; it doubles with every attempt up to ``max_backoff``."""
    max_backoff: float = 30.0
    max_retry_after: float = 120.0
    """A longer ``Retry-After`` is not waited for: the error is raised instead."""
    retry_statuses: frozenset[int] = frozenset({429, 503})

    def backoff_delay(self, attempt: int) -> float:
        """Full jitter: uniform in ``[0, min(max_backoff, backoff * 2**(attempt-1))]``."""
        return random.uniform(0.0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))


NO_RETRY = RetryPolicy(max_attempts=1)


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API request and how to read its answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    content: bytes | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotent: bool | None = None
    """``None``: decided by the method (RFC 9110 §9.2.2)."""
    timeout: float | None = None

    @property
    def is_idempotent(self) -> bool:
        return self.idempotent if self.idempotent is not None else self.method in _IDEMPOTENT_METHODS

    def build(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        params = {k: v for k, v in (self.params or {}).items() if v is not None}
        extensions = {}
        if self.timeout is not None:
            extensions["timeout"] = httpx.Timeout(self.timeout).as_dict()
        return client.build_request(
            self.method,
            self.path,
            params=params or None,
            json=self.json,
            content=self.content,
            headers=dict(self.headers) or None,
            extensions=extensions or None,
        )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


class Attempts:
    """The retry state of one call: after each response or error, says how long to wait, or stops."""

    def __init__(self, call: Call[Any], policy: RetryPolicy) -> None:
        self.call = call
        self.policy = policy
        self.attempt = 1

    def after_response(self, response: httpx.Response) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to keep this response."""
        status = response.status_code
        if status not in self.policy.retry_statuses or self.attempt >= self.policy.max_attempts:
            return None
        if status != 429 and not self.call.is_idempotent:
            return None
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is not None and retry_after > self.policy.max_retry_after:
            return None
        self.attempt += 1
        return retry_after if retry_after is not None else self.policy.backoff_delay(self.attempt - 1)

    def after_close(self) -> float:
        """Seconds to wait before reconnecting a stream the server ended; raises when out of attempts."""
        if self.attempt >= self.policy.max_attempts:
            raise LnxConnectionError(
                f"{self.call.path} ended {self.attempt} time(s) in a row without an event"
            )
        self.attempt += 1
        return self.policy.backoff_delay(self.attempt - 1)

    def after_error(self, exc: httpx.TransportError) -> float:
        """Seconds to wait before the next attempt; raises ``LnxConnectionError`` when out of attempts."""
        retryable = self.call.is_idempotent or isinstance(exc, _NOT_SENT)
        if not retryable or self.attempt >= self.policy.max_attempts:
            raise LnxConnectionError(
                f"{self.call.method} {self.call.path} failed after {self.attempt} attempt(s): {exc!r}"
            ) from exc
        self.attempt += 1
        return self.policy.backoff_delay(self.attempt - 1)


def raise_for_problem(response: httpx.Response) -> None:
    """Raise :class:`LnxApiError` for a 4xx/5xx answer, with its problem document."""
    if response.status_code < 400:
        return
    problem: dict[str, Any] | None = None
    content_type = response.headers.get("content-type", "")
    if "json" in content_type:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            problem = body
    if problem is None:
        problem = {
            "title": response.reason_phrase or "HTTP error",
            "status": response.status_code,
            "detail": response.text[:500],
        }
    raise LnxApiError(response.status_code, problem, headers=dict(response.headers))


def sleep_sync(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)
