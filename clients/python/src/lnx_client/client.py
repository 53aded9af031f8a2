"""``Client``: the synchronous client of the exchange's API (contract §1-§6).

    with Client("https://lnx.example", token="lnx_...") as lnx:
        receipt = lnx.submit(sign_document(payload, signer))
        for document in lnx.iter_documents(issuer="IND"):
            ...

``transport`` takes any ``httpx.BaseTransport`` (``httpx.MockTransport`` or ``httpx.WSGITransport``
in tests, a custom one for mTLS or proxies); requests are retried as ``_http`` describes.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx

from . import _endpoints as api
from ._http import USER_AGENT, Attempts, Call, RetryPolicy, raise_for_problem, sleep_sync
from ._sse import STREAM_CALL, STREAM_TIMEOUT, SseParser
from .core.tiles import entries_path, tile_path
from .errors import LnxApiError
from .follow import DEFAULT_LIMIT, DEFAULT_WAIT_S, FeedFollower
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

__all__ = ["Client", "DEFAULT_TIMEOUT"]

T = TypeVar("T")
DEFAULT_TIMEOUT = 30.0


def client_headers(token: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    headers.update(extra or {})
    return headers


class Client:
    """A synchronous client bound to one exchange and one API token."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = sleep_sync,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=client_headers(token, headers),
            transport=transport,
            timeout=timeout,
        )

    # ------------------------------------------------------------ plumbing

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, call: Call[T]) -> T:
        """Send a :class:`Call` with retries; raise :class:`LnxApiError` or return the parsed answer."""
        response = self._send(call)
        raise_for_problem(response)
        return call.parse(response)

    def _send(self, call: Call[Any]) -> httpx.Response:
        attempts = Attempts(call, self.retry)
        while True:
            request = call.build(self._http)
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                self._sleep(attempts.after_error(exc))
                continue
            delay = attempts.after_response(response)
            if delay is None:
                return response
            response.close()
            self._sleep(delay)

    # ------------------------------------------------------------ participants, keys, tokens

    def list_participants(self, role: str | None = None, active: bool | None = None) -> list[Participant]:
        """The directory of participants."""
        return self.request(api.list_participants(role, active))

    def get_participant(self, code: str) -> Participant:
        return self.request(api.get_participant(code))

    def add_participant(self, code: str, name: str, role: str, contact: str | None = None) -> Participant:
        """Register a participant (operator)."""
        return self.request(api.add_participant(code, name, role, contact))

    def update_participant(self, code: str, **changes: Any) -> Participant:
        return self.request(api.update_participant(code, **changes))

    def deactivate_participant(self, code: str) -> Participant:
        return self.request(api.deactivate_participant(code))

    def get_jwks(self, code: str) -> Jwks:
        """The participant's keys as a JWK Set, with validity and revocation times."""
        return self.request(api.get_jwks(code))

    def register_key(
        self,
        code: str,
        jwk: dict[str, Any],
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> Key:
        """Register a public signing key (operator)."""
        return self.request(api.register_key(code, jwk, not_before, not_after))

    def rotate_key(self, code: str, request: str, proof: str) -> Key:
        return self.request(api.rotate_key(code, request, proof))

    def revoke_key(self, code: str, kid: str, reason: str, revoked_at: datetime | None = None) -> Key:
        return self.request(api.revoke_key(code, kid, reason, revoked_at))

    def issue_token(
        self,
        participant: str,
        scopes: Sequence[str],
        expires_in_days: float | None = None,
        description: str | None = None,
    ) -> TokenIssued:
        """Issue an API token (operator); the secret is in this answer only."""
        return self.request(api.issue_token(participant, scopes, expires_in_days, description))

    def list_tokens(self, participant: str | None = None) -> list[Token]:
        return self.request(api.list_tokens(participant))

    def revoke_token(self, token_id: str) -> Token:
        return self.request(api.revoke_token(token_id))

    # ------------------------------------------------------------ regimes

    def list_regimes(self) -> list[Regime]:
        return self.request(api.list_regimes())

    def get_regime(self, regime_id: str) -> Regime:
        return self.request(api.get_regime(regime_id))

    def update_regime(self, regime_id: str, **changes: Any) -> Regime:
        return self.request(api.update_regime(regime_id, **changes))

    def join_regime(self, regime_id: str, code: str) -> Regime:
        return self.request(api.join_regime(regime_id, code))

    def leave_regime(self, regime_id: str, code: str) -> Regime:
        return self.request(api.leave_regime(regime_id, code))

    def add_auditor(self, regime_id: str, code: str) -> Regime:
        return self.request(api.add_auditor(regime_id, code))

    def remove_auditor(self, regime_id: str, code: str) -> Regime:
        return self.request(api.remove_auditor(regime_id, code))

    def set_boundary(self, regime_id: str, geometry: dict[str, Any]) -> Regime:
        return self.request(api.set_boundary(regime_id, geometry))

    # ------------------------------------------------------------ documents

    def submit(self, jws: str) -> Receipt:
        """Submit a signed document (compact JWS); retried safely, the server is idempotent."""
        return self.request(api.submit(jws))

    def get_document(self, document_id: str) -> Document:
        return self.request(api.get_document(document_id))

    def get_jws(self, document_id: str) -> str:
        """The document's exact compact JWS (``Accept: application/jose``)."""
        return self.request(api.get_jws(document_id))

    def list_documents(self, **filters: Any) -> DocumentPage:
        """One page; filters: type, issuer, regime, vehicle_class, window_from, window_to, status,
        page_size, page_token."""
        return self.request(api.list_documents(**filters))

    def iter_documents(self, **filters: Any) -> Iterator[Document]:
        """Every document matching the filters, following ``next_page_token``."""
        token = filters.pop("page_token", None)
        while True:
            page = self.list_documents(page_token=token, **filters)
            yield from page.documents
            token = page.next_page_token
            if not token:
                return

    def document_history(self, document_id: str) -> list[Document]:
        return self.request(api.document_history(document_id))

    def documents_geojson(self, active: bool = True) -> dict[str, Any]:
        return self.request(api.documents_geojson(active))

    def document_cap(self, document_id: str) -> str:
        """The notification as an OASIS CAP 1.2 alert (XML)."""
        return self.request(api.document_cap(document_id))

    def declarations(
        self, year: int | None = None, issuer: str | None = None, regime: str | None = None
    ) -> list[dict[str, Any]]:
        """The current annual declarations the caller may read."""
        return self.request(api.declarations(year, issuer, regime))

    def compliance_report(self, year: int | None = None, regime: str | None = None) -> dict[str, Any]:
        """Per regime and state: declarations, launches on record, findings (contract §4)."""
        return self.request(api.compliance_report(year, regime))

    def upcoming_report(self, days: int | None = None) -> dict[str, Any]:
        """Launch windows open now or soon, and notifications overdue a post-launch report."""
        return self.request(api.upcoming_report(days))

    # ------------------------------------------------------------ feed, stream, subscriptions

    def poll_feed(
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
        return self.request(call)

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
    ) -> FeedFollower:
        """Follow the feed with long polls, keeping the cursor in ``cursor_file`` (see ``follow``)."""
        return FeedFollower(
            functools.partial(self.poll_feed, types=types, issuers=issuers, regimes=regimes),
            after=after,
            cursor_file=cursor_file,
            wait=wait,
            limit=limit,
            timeout=timeout,
        )

    def stream(
        self,
        last_event_id: str | None = None,
        *,
        after: str | None = None,
        types: str | Iterable[str] | None = None,
        issuers: str | Iterable[str] | None = None,
        regimes: str | Iterable[str] | None = None,
    ) -> Iterator[Event]:
        """Events from ``/v1/stream`` (Server-Sent Events), reconnecting with ``Last-Event-ID``."""
        parser = SseParser(last_event_id)
        params = api.stream_params(after, types=types, issuers=issuers, regimes=regimes)
        attempts = Attempts(STREAM_CALL, self.retry)
        while True:
            try:
                with self._http.stream(
                    "GET", STREAM_CALL.path, params=params, headers=parser.headers(), timeout=STREAM_TIMEOUT
                ) as response:
                    if response.status_code >= 400:
                        response.read()
                        delay = attempts.after_response(response)
                        if delay is None:
                            raise_for_problem(response)
                        self._sleep(delay or 0.0)
                        continue
                    for line in response.iter_lines():
                        event = parser.feed_event(line)
                        if event is not None:
                            attempts = Attempts(STREAM_CALL, self.retry)
                            yield event
                self._sleep(attempts.after_close())
            except httpx.TransportError as exc:
                self._sleep(attempts.after_error(exc))

    def create_subscription(
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
        return self.request(call)

    def list_subscriptions(self) -> list[Subscription]:
        return self.request(api.list_subscriptions())

    def get_subscription(self, subscription_id: str) -> Subscription:
        return self.request(api.get_subscription(subscription_id))

    def update_subscription(self, subscription_id: str, **changes: Any) -> Subscription:
        """Change url, types, issuers, regimes, description; ``enabled=True`` re-enables it."""
        return self.request(api.update_subscription(subscription_id, **changes))

    def delete_subscription(self, subscription_id: str) -> None:
        self.request(api.delete_subscription(subscription_id))

    def rotate_subscription_secret(self, subscription_id: str) -> SubscriptionCreated:
        """A new secret (shown once); the old one keeps signing for a while."""
        return self.request(api.rotate_subscription_secret(subscription_id))

    def list_deliveries(
        self,
        subscription_id: str,
        *,
        status: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> DeliveryPage:
        """One page of the subscription's deliveries, newest first."""
        call = api.list_deliveries(subscription_id, status=status, page_size=page_size, page_token=page_token)
        return self.request(call)

    def get_delivery(self, subscription_id: str, delivery_id: int) -> Delivery:
        """One delivery with every attempt (``attempt_log``)."""
        return self.request(api.get_delivery(subscription_id, delivery_id))

    def redeliver(self, subscription_id: str, delivery_id: int) -> Delivery:
        return self.request(api.redeliver(subscription_id, delivery_id))

    # ------------------------------------------------------------ log

    def log_checkpoint(self, size: int | None = None) -> str:
        """The newest signed checkpoint note (or the one of ``size``), cosignatures included."""
        return self.request(api.log_checkpoint(size))

    def log_key(self) -> str:
        """The log's verifier key string; trust it only if obtained out of band."""
        return self.request(api.log_key())

    def inclusion_proof(
        self, index: int | None = None, *, size: int | None = None, leaf_hash: str | bytes | None = None
    ) -> InclusionProof:
        return self.request(api.inclusion_proof(index, size=size, leaf_hash=leaf_hash))

    def consistency_proof(self, first: int, second: int) -> ConsistencyProof:
        return self.request(api.consistency_proof(first, second))

    def log_entries(self, start: int, end: int | None = None) -> list[LogEntry]:
        """One page of entries ``[start, end)`` (the server caps a page)."""
        return self.request(api.log_entries(start, end))

    def iter_log_entries(self, start: int = 0, end: int | None = None) -> Iterator[LogEntry]:
        """Entries from ``start`` to ``end`` (default: the signed tree's size), page after page."""
        while end is None or start < end:
            try:
                page = self.log_entries(start, end)
            except LnxApiError as exc:
                if exc.status == 404 and end is None:
                    return  # start is past the signed tree
                raise
            if not page:
                return
            yield from page
            start = page[-1].index + 1

    def log_tile(self, level: int, index: int, width: int = 256) -> bytes:
        """A C2SP tlog-tiles hash tile."""
        return self.request(api.log_tile_path(tile_path(level, index, width)))

    def log_entry_bundle(self, index: int, width: int = 256) -> bytes:
        """A C2SP tlog-tiles entry bundle (the leaf data of level-0 tile ``index``)."""
        return self.request(api.log_tile_path(entries_path(index, width)))

    def list_witnesses(self) -> list[Witness]:
        return self.request(api.list_witnesses())

    def register_witness(self, vkey: str, name: str | None = None, participant: str | None = None) -> Witness:
        """Register a witness's cosignature verifier key (operator)."""
        return self.request(api.register_witness(vkey, name, participant))

    def deactivate_witness(self, name: str) -> Witness:
        return self.request(api.deactivate_witness(name))

    def post_cosignature(self, cosigned_note: str) -> CosignatureAccepted:
        """Send a checkpoint note carrying a witness cosignature (no token needed)."""
        return self.request(api.post_cosignature(cosigned_note))
