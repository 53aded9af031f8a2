"""``AsyncClient``: the asynchronous twin of :class:`lnx_client.Client` (same methods, awaited).

    async with AsyncClient("https://lnx.example", token="lnx_...") as lnx:
        async for event in lnx.follow(cursor_file="feed.cursor"):
            ...

Both clients execute the same endpoint descriptions (``_endpoints``), so they cannot drift apart.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx

from . import _endpoints as api
from ._http import Attempts, Call, RetryPolicy, raise_for_problem
from ._sse import STREAM_CALL, STREAM_TIMEOUT, SseParser
from .client import DEFAULT_TIMEOUT, client_headers
from .core.tiles import entries_path, tile_path
from .errors import LnxApiError
from .follow import DEFAULT_LIMIT, DEFAULT_WAIT_S, AsyncFeedFollower
from .models import (
    ConsistencyProof,
    CosignatureAccepted,
    Delivery,
    DeliveryPage,
    Document,
    DocumentPage,
    Event,
    FeedPage,
    InclusionProof,
    Jwks,
    Key,
    LogEntry,
    Participant,
    Receipt,
    Regime,
    Subscription,
    SubscriptionCreated,
    Token,
    TokenIssued,
    Witness,
)

__all__ = ["AsyncClient"]

T = TypeVar("T")


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


class AsyncClient:
    """An asynchronous client bound to one exchange and one API token."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], Awaitable[None]] = _sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=client_headers(token, headers),
            transport=transport,
            timeout=timeout,
        )

    # ------------------------------------------------------------ plumbing

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def request(self, call: Call[T]) -> T:
        """Send a :class:`Call` with retries; raise :class:`LnxApiError` or return the parsed answer."""
        response = await self._send(call)
        raise_for_problem(response)
        return call.parse(response)

    async def _send(self, call: Call[Any]) -> httpx.Response:
        attempts = Attempts(call, self.retry)
        while True:
            request = call.build(self._http)
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                await self._sleep(attempts.after_error(exc))
                continue
            delay = attempts.after_response(response)
            if delay is None:
                return response
            await response.aclose()
            await self._sleep(delay)

    # ------------------------------------------------------------ participants, keys, tokens

    async def list_participants(
        self, role: str | None = None, active: bool | None = None
    ) -> list[Participant]:
        """The directory of participants."""
        return await self.request(api.list_participants(role, active))

    async def get_participant(self, code: str) -> Participant:
        return await self.request(api.get_participant(code))

    async def add_participant(
        self, code: str, name: str, role: str, contact: str | None = None
    ) -> Participant:
        """Register a participant (operator)."""
        return await self.request(api.add_participant(code, name, role, contact))

    async def update_participant(self, code: str, **changes: Any) -> Participant:
        return await self.request(api.update_participant(code, **changes))

    async def deactivate_participant(self, code: str) -> Participant:
        return await self.request(api.deactivate_participant(code))

    async def get_jwks(self, code: str) -> Jwks:
        """The participant's keys as a JWK Set, with validity and revocation times."""
        return await self.request(api.get_jwks(code))

    async def register_key(
        self,
        code: str,
        jwk: dict[str, Any],
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> Key:
        """Register a public signing key (operator)."""
        return await self.request(api.register_key(code, jwk, not_before, not_after))

    async def rotate_key(self, code: str, request: str, proof: str) -> Key:
        return await self.request(api.rotate_key(code, request, proof))

    async def revoke_key(self, code: str, kid: str, reason: str, revoked_at: datetime | None = None) -> Key:
        return await self.request(api.revoke_key(code, kid, reason, revoked_at))

    async def issue_token(
        self,
        participant: str,
        scopes: Sequence[str],
        expires_in_days: float | None = None,
        description: str | None = None,
    ) -> TokenIssued:
        """Issue an API token (operator); the secret is in this answer only."""
        return await self.request(api.issue_token(participant, scopes, expires_in_days, description))

    async def list_tokens(self, participant: str | None = None) -> list[Token]:
        return await self.request(api.list_tokens(participant))

    async def revoke_token(self, token_id: str) -> Token:
        return await self.request(api.revoke_token(token_id))

    # ------------------------------------------------------------ regimes

    async def list_regimes(self) -> list[Regime]:
        return await self.request(api.list_regimes())

    async def get_regime(self, regime_id: str) -> Regime:
        return await self.request(api.get_regime(regime_id))

    async def update_regime(self, regime_id: str, **changes: Any) -> Regime:
        return await self.request(api.update_regime(regime_id, **changes))

    async def join_regime(self, regime_id: str, code: str) -> Regime:
        return await self.request(api.join_regime(regime_id, code))

    async def leave_regime(self, regime_id: str, code: str) -> Regime:
        return await self.request(api.leave_regime(regime_id, code))

    async def add_auditor(self, regime_id: str, code: str) -> Regime:
        return await self.request(api.add_auditor(regime_id, code))

    async def remove_auditor(self, regime_id: str, code: str) -> Regime:
        return await self.request(api.remove_auditor(regime_id, code))

    async def set_boundary(self, regime_id: str, geometry: dict[str, Any]) -> Regime:
        return await self.request(api.set_boundary(regime_id, geometry))

    # ------------------------------------------------------------ documents

    async def submit(self, jws: str) -> Receipt:
        """Submit a signed document (compact JWS); retried safely, the server is idempotent."""
        return await self.request(api.submit(jws))

    async def get_document(self, document_id: str) -> Document:
        return await self.request(api.get_document(document_id))

    async def get_jws(self, document_id: str) -> str:
        """The document's exact compact JWS (``Accept: application/jose``)."""
        return await self.request(api.get_jws(document_id))

    async def list_documents(self, **filters: Any) -> DocumentPage:
        """One page; filters: type, issuer, regime, vehicle_class, window_from, window_to, status,
        page_size, page_token."""
        return await self.request(api.list_documents(**filters))

    async def iter_documents(self, **filters: Any) -> AsyncIterator[Document]:
        """Every document matching the filters, following ``next_page_token``."""
        token = filters.pop("page_token", None)
        while True:
            page = await self.list_documents(page_token=token, **filters)
            for document in page.documents:
                yield document
            token = page.next_page_token
            if not token:
                return

    async def document_history(self, document_id: str) -> list[Document]:
        return await self.request(api.document_history(document_id))

    async def documents_geojson(self, active: bool = True) -> dict[str, Any]:
        return await self.request(api.documents_geojson(active))

    async def document_cap(self, document_id: str) -> str:
        """The notification as an OASIS CAP 1.2 alert (XML)."""
        return await self.request(api.document_cap(document_id))

    async def declarations(
        self, year: int | None = None, issuer: str | None = None, regime: str | None = None
    ) -> list[dict[str, Any]]:
        """The current annual declarations the caller may read."""
        return await self.request(api.declarations(year, issuer, regime))

    async def compliance_report(self, year: int | None = None, regime: str | None = None) -> dict[str, Any]:
        """Per regime and state: declarations, launches on record, findings (contract §4)."""
        return await self.request(api.compliance_report(year, regime))

    async def upcoming_report(self, days: int | None = None) -> dict[str, Any]:
        """Launch windows open now or soon, and notifications overdue a post-launch report."""
        return await self.request(api.upcoming_report(days))

    # ------------------------------------------------------------ feed, stream, subscriptions

    async def poll_feed(
        self,
        after: str | None = None,
        limit: int | None = None,
        wait: float | None = None,
        *,
        types: str | Iterable[str] | None = None,
        issuers: str | Iterable[str] | None = None,
        regimes: str | Iterable[str] | None = None,
    ) -> FeedPage:
        """One poll of the feed; with ``wait`` the server holds the request until an event arrives.

        ``after`` is the id of the last event seen (``"0"``: from the start, ``"latest"``: from now).
        """
        call = api.poll_feed(after, limit, wait, types=types, issuers=issuers, regimes=regimes)
        return await self.request(call)

    def follow(
        self,
        after: str | None = None,
        *,
        cursor_file: str | os.PathLike[str] | None = None,
        wait: float = DEFAULT_WAIT_S,
        limit: int = DEFAULT_LIMIT,
        timeout: float | None = None,
        types: str | Iterable[str] | None = None,
        issuers: str | Iterable[str] | None = None,
        regimes: str | Iterable[str] | None = None,
    ) -> AsyncFeedFollower:
        """Follow the feed with long polls (``async for``), keeping the cursor in ``cursor_file``."""
        return AsyncFeedFollower(
            functools.partial(self.poll_feed, types=types, issuers=issuers, regimes=regimes),
            after=after,
            cursor_file=cursor_file,
            wait=wait,
            limit=limit,
            timeout=timeout,
        )

    async def stream(
        self,
        last_event_id: str | None = None,
        *,
        after: str | None = None,
        types: str | Iterable[str] | None = None,
        issuers: str | Iterable[str] | None = None,
        regimes: str | Iterable[str] | None = None,
    ) -> AsyncIterator[Event]:
        """Events from ``/v1/stream`` (Server-Sent Events), reconnecting with ``Last-Event-ID``."""
        parser = SseParser(last_event_id)
        params = api.stream_params(after, types=types, issuers=issuers, regimes=regimes)
        attempts = Attempts(STREAM_CALL, self.retry)
        while True:
            try:
                async with self._http.stream(
                    "GET", STREAM_CALL.path, params=params, headers=parser.headers(), timeout=STREAM_TIMEOUT
                ) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        delay = attempts.after_response(response)
                        if delay is None:
                            raise_for_problem(response)
                        await self._sleep(delay or 0.0)
                        continue
                    async for line in response.aiter_lines():
                        event = parser.feed_event(line)
                        if event is not None:
                            attempts = Attempts(STREAM_CALL, self.retry)
                            yield event
                await self._sleep(attempts.after_close())
            except httpx.TransportError as exc:
                await self._sleep(attempts.after_error(exc))

    async def create_subscription(
        self,
        url: str,
        *,
        types: Sequence[str] | None = None,
        issuers: Sequence[str] | None = None,
        regimes: Sequence[str] | None = None,
        description: str | None = None,
    ) -> SubscriptionCreated:
        """Register a webhook; keep the returned ``secret`` for :class:`WebhookVerifier`."""
        call = api.create_subscription(
            url, types=types, issuers=issuers, regimes=regimes, description=description
        )
        return await self.request(call)

    async def list_subscriptions(self) -> list[Subscription]:
        return await self.request(api.list_subscriptions())

    async def get_subscription(self, subscription_id: str) -> Subscription:
        return await self.request(api.get_subscription(subscription_id))

    async def update_subscription(self, subscription_id: str, **changes: Any) -> Subscription:
        """Change url, types, issuers, regimes, description; ``enabled=True`` re-enables it."""
        return await self.request(api.update_subscription(subscription_id, **changes))

    async def delete_subscription(self, subscription_id: str) -> None:
        await self.request(api.delete_subscription(subscription_id))

    async def rotate_subscription_secret(self, subscription_id: str) -> SubscriptionCreated:
        """A new secret (shown once); the old one keeps signing for a while."""
        return await self.request(api.rotate_subscription_secret(subscription_id))

    async def list_deliveries(
        self,
        subscription_id: str,
        *,
        status: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> DeliveryPage:
        """One page of the subscription's deliveries, newest first."""
        call = api.list_deliveries(subscription_id, status=status, page_size=page_size, page_token=page_token)
        return await self.request(call)

    async def get_delivery(self, subscription_id: str, delivery_id: int) -> Delivery:
        """One delivery with every attempt (``attempt_log``)."""
        return await self.request(api.get_delivery(subscription_id, delivery_id))

    async def redeliver(self, subscription_id: str, delivery_id: int) -> Delivery:
        return await self.request(api.redeliver(subscription_id, delivery_id))

    # ------------------------------------------------------------ log

    async def log_checkpoint(self, size: int | None = None) -> str:
        """The newest signed checkpoint note (or the one of ``size``), cosignatures included."""
        return await self.request(api.log_checkpoint(size))

    async def log_key(self) -> str:
        """The log's verifier key string; trust it only if obtained out of band."""
        return await self.request(api.log_key())

    async def inclusion_proof(
        self, index: int | None = None, *, size: int | None = None, leaf_hash: str | bytes | None = None
    ) -> InclusionProof:
        return await self.request(api.inclusion_proof(index, size=size, leaf_hash=leaf_hash))

    async def consistency_proof(self, first: int, second: int) -> ConsistencyProof:
        return await self.request(api.consistency_proof(first, second))

    async def log_entries(self, start: int, end: int | None = None) -> list[LogEntry]:
        """One page of entries ``[start, end)`` (the server caps a page)."""
        return await self.request(api.log_entries(start, end))

    async def iter_log_entries(self, start: int = 0, end: int | None = None) -> AsyncIterator[LogEntry]:
        """Entries from ``start`` to ``end`` (default: the signed tree's size), page after page."""
        while end is None or start < end:
            try:
                page = await self.log_entries(start, end)
            except LnxApiError as exc:
                if exc.status == 404 and end is None:
                    return
                raise
            if not page:
                return
            for entry in page:
                yield entry
            start = page[-1].index + 1

    async def log_tile(self, level: int, index: int, width: int = 256) -> bytes:
        """A C2SP tlog-tiles hash tile."""
        return await self.request(api.log_tile_path(tile_path(level, index, width)))

    async def log_entry_bundle(self, index: int, width: int = 256) -> bytes:
        """A C2SP tlog-tiles entry bundle (the leaf data of level-0 tile ``index``)."""
        return await self.request(api.log_tile_path(entries_path(index, width)))

    async def list_witnesses(self) -> list[Witness]:
        return await self.request(api.list_witnesses())

    async def register_witness(
        self, vkey: str, name: str | None = None, participant: str | None = None
    ) -> Witness:
        """Register a witness's cosignature verifier key (operator)."""
        return await self.request(api.register_witness(vkey, name, participant))

    async def deactivate_witness(self, name: str) -> Witness:
        return await self.request(api.deactivate_witness(name))

    async def post_cosignature(self, cosigned_note: str) -> CosignatureAccepted:
        """Send a checkpoint note carrying a witness cosignature (no token needed)."""
        return await self.request(api.post_cosignature(cosigned_note))
