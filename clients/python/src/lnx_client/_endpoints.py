"""Every endpoint of the contract, described once as a :class:`Call` (executed by both clients)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from ._http import Call
from .models import (
    ConsistencyProof,
    CosignatureAccepted,
    Delivery,
    DeliveryPage,
    Document,
    DocumentPage,
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

M = TypeVar("M", bound=BaseModel)
JOSE = "application/jose"


def _seg(value: str) -> str:
    """A path segment, percent-encoded (document ids, codes, kids and witness names)."""
    return quote(str(value), safe="")


def _time(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat().replace("+00:00", "Z")


def _one(model: type[M]) -> Any:
    return lambda r: model.model_validate(r.json())


def _many(model: type[M]) -> Any:
    adapter = TypeAdapter(list[model])  # type: ignore[valid-type]
    return lambda r: adapter.validate_python(r.json())


def _json(r: httpx.Response) -> Any:
    return r.json()


def _text(r: httpx.Response) -> str:
    return r.text


def _bytes(r: httpx.Response) -> bytes:
    return r.content


def _none(r: httpx.Response) -> None:
    return None


def _receipt(r: httpx.Response) -> Receipt:
    return Receipt.model_validate({**r.json(), "created": r.status_code == 201})


# ---------------------------------------------------------------- participants, keys, tokens


def list_participants(role: str | None = None, active: bool | None = None) -> Call[list[Participant]]:
    return Call("GET", "/v1/participants", _many(Participant), params={"role": role, "active": active})


def get_participant(code: str) -> Call[Participant]:
    return Call("GET", f"/v1/participants/{_seg(code)}", _one(Participant))


def add_participant(code: str, name: str, role: str, contact: str | None = None) -> Call[Participant]:
    body = {"code": code, "name": name, "role": role, "contact": contact}
    return Call("POST", "/v1/participants", _one(Participant), json=body)


def update_participant(code: str, **changes: Any) -> Call[Participant]:
    return Call("PATCH", f"/v1/participants/{_seg(code)}", _one(Participant), json=changes)


def deactivate_participant(code: str) -> Call[Participant]:
    return Call("POST", f"/v1/participants/{_seg(code)}/deactivate", _one(Participant), idempotent=True)


def get_jwks(code: str) -> Call[Jwks]:
    return Call("GET", f"/v1/participants/{_seg(code)}/keys", _one(Jwks))


def register_key(
    code: str, jwk: dict[str, Any], not_before: datetime | None = None, not_after: datetime | None = None
) -> Call[Key]:
    body: dict[str, Any] = {"jwk": jwk}
    if not_before is not None:
        body["not_before"] = _time(not_before)
    if not_after is not None:
        body["not_after"] = _time(not_after)
    return Call("POST", f"/v1/participants/{_seg(code)}/keys", _one(Key), json=body)


def rotate_key(code: str, request: str, proof: str) -> Call[Key]:
    body = {"request": request, "proof": proof}
    return Call("POST", f"/v1/participants/{_seg(code)}/keys/rotate", _one(Key), json=body)


def revoke_key(code: str, kid: str, reason: str, revoked_at: datetime | None = None) -> Call[Key]:
    body: dict[str, Any] = {"reason": reason}
    if revoked_at is not None:
        body["revoked_at"] = _time(revoked_at)
    return Call("POST", f"/v1/participants/{_seg(code)}/keys/{_seg(kid)}/revoke", _one(Key), json=body)


def issue_token(
    participant: str,
    scopes: Sequence[str],
    expires_in_days: float | None = None,
    description: str | None = None,
) -> Call[TokenIssued]:
    body: dict[str, Any] = {"participant": participant, "scopes": list(scopes)}
    if expires_in_days is not None:
        body["expires_in_days"] = expires_in_days
    if description is not None:
        body["description"] = description
    return Call("POST", "/v1/tokens", _one(TokenIssued), json=body)


def list_tokens(participant: str | None = None) -> Call[list[Token]]:
    return Call("GET", "/v1/tokens", _many(Token), params={"participant": participant})


def revoke_token(token_id: str) -> Call[Token]:
    return Call("POST", f"/v1/tokens/{_seg(token_id)}/revoke", _one(Token), idempotent=True)


# ---------------------------------------------------------------- regimes


def list_regimes() -> Call[list[Regime]]:
    return Call("GET", "/v1/regimes", _many(Regime))


def get_regime(regime_id: str) -> Call[Regime]:
    return Call("GET", f"/v1/regimes/{_seg(regime_id)}", _one(Regime))


def update_regime(regime_id: str, **changes: Any) -> Call[Regime]:
    return Call("PATCH", f"/v1/regimes/{_seg(regime_id)}", _one(Regime), json=changes)


def join_regime(regime_id: str, code: str) -> Call[Regime]:
    return Call("POST", f"/v1/regimes/{_seg(regime_id)}/members", _one(Regime), json={"participant": code})


def leave_regime(regime_id: str, code: str) -> Call[Regime]:
    return Call("DELETE", f"/v1/regimes/{_seg(regime_id)}/members/{_seg(code)}", _one(Regime))


def add_auditor(regime_id: str, code: str) -> Call[Regime]:
    return Call("POST", f"/v1/regimes/{_seg(regime_id)}/auditors", _one(Regime), json={"participant": code})


def remove_auditor(regime_id: str, code: str) -> Call[Regime]:
    return Call("DELETE", f"/v1/regimes/{_seg(regime_id)}/auditors/{_seg(code)}", _one(Regime))


def set_boundary(regime_id: str, geometry: dict[str, Any]) -> Call[Regime]:
    return Call("PUT", f"/v1/regimes/{_seg(regime_id)}/boundary", _one(Regime), json={"geometry": geometry})


# ---------------------------------------------------------------- documents


def submit(jws: str) -> Call[Receipt]:
    # Idempotent by design (contract §3): the same JWS answers 200 with the same receipt.
    return Call(
        "POST",
        "/v1/documents",
        _receipt,
        content=jws.strip().encode("ascii"),
        headers={"Content-Type": JOSE},
        idempotent=True,
    )


def get_document(document_id: str) -> Call[Document]:
    return Call("GET", f"/v1/documents/{_seg(document_id)}", _one(Document))


def get_jws(document_id: str) -> Call[str]:
    return Call("GET", f"/v1/documents/{_seg(document_id)}", _text, headers={"Accept": JOSE})


def list_documents(
    *,
    type: str | Iterable[str] | None = None,
    issuer: str | None = None,
    regime: str | None = None,
    vehicle_class: str | None = None,
    window_from: datetime | str | None = None,
    window_to: datetime | str | None = None,
    status: str | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
) -> Call[DocumentPage]:
    types = [type] if isinstance(type, str) else list(type or [])
    params = {
        "type": types or None,
        "issuer": issuer,
        "regime": regime,
        "class": vehicle_class,
        "window_from": _time(window_from),
        "window_to": _time(window_to),
        "status": status,
        "page_size": page_size,
        "page_token": page_token,
    }
    return Call("GET", "/v1/documents", _one(DocumentPage), params=params)


def document_history(document_id: str) -> Call[list[Document]]:
    adapter = TypeAdapter(list[Document])
    return Call(
        "GET",
        f"/v1/documents/{_seg(document_id)}/history",
        lambda r: adapter.validate_python(r.json()["documents"]),
    )


def documents_geojson(active: bool = True) -> Call[dict[str, Any]]:
    return Call("GET", "/v1/documents.geojson", _json, params={"active": str(active).lower()})


def document_cap(document_id: str) -> Call[str]:
    return Call("GET", f"/v1/documents/{_seg(document_id)}.cap", _text)


def declarations(
    year: int | None = None, issuer: str | None = None, regime: str | None = None
) -> Call[list[dict[str, Any]]]:
    params = {"year": year, "issuer": issuer, "regime": regime}
    return Call("GET", "/v1/declarations", lambda r: r.json()["declarations"], params=params)


def compliance_report(year: int | None = None, regime: str | None = None) -> Call[dict[str, Any]]:
    return Call("GET", "/v1/reports/compliance", _json, params={"year": year, "regime": regime})


def upcoming_report(days: int | None = None) -> Call[dict[str, Any]]:
    return Call("GET", "/v1/reports/upcoming", _json, params={"days": days})


# ---------------------------------------------------------------- feed and subscriptions

#: Extra time a long poll's HTTP timeout allows beyond the server-side wait.
LONG_POLL_MARGIN_S = 15.0


def _listed(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value) or None


def poll_feed(
    after: str | None = None,
    limit: int | None = None,
    wait: float | None = None,
    *,
    types: str | Iterable[str] | None = None,
    issuers: str | Iterable[str] | None = None,
    regimes: str | Iterable[str] | None = None,
) -> Call[FeedPage]:
    timeout = (wait or 0) + LONG_POLL_MARGIN_S
    params = {
        "after": after,
        "limit": limit,
        "wait": None if wait is None else f"{wait:.3f}",
        "type": _listed(types),
        "issuer": _listed(issuers),
        "regime": _listed(regimes),
    }
    return Call("GET", "/v1/feed", _one(FeedPage), params=params, timeout=timeout)


def stream_params(
    after: str | None = None,
    *,
    types: str | Iterable[str] | None = None,
    issuers: str | Iterable[str] | None = None,
    regimes: str | Iterable[str] | None = None,
) -> dict[str, Any]:
    params = {"after": after, "type": _listed(types), "issuer": _listed(issuers), "regime": _listed(regimes)}
    return {k: v for k, v in params.items() if v is not None}


def create_subscription(
    url: str,
    *,
    types: Sequence[str] | None = None,
    issuers: Sequence[str] | None = None,
    regimes: Sequence[str] | None = None,
    description: str | None = None,
) -> Call[SubscriptionCreated]:
    body: dict[str, Any] = {"url": url}
    for name, value in (("types", types), ("issuers", issuers), ("regimes", regimes)):
        if value is not None:
            body[name] = list(value)
    if description is not None:
        body["description"] = description
    return Call("POST", "/v1/subscriptions", _one(SubscriptionCreated), json=body)


def list_subscriptions() -> Call[list[Subscription]]:
    adapter = TypeAdapter(list[Subscription])
    return Call("GET", "/v1/subscriptions", lambda r: adapter.validate_python(r.json()["subscriptions"]))


def get_subscription(subscription_id: str) -> Call[Subscription]:
    return Call("GET", f"/v1/subscriptions/{_seg(subscription_id)}", _one(Subscription))


def update_subscription(subscription_id: str, **changes: Any) -> Call[Subscription]:
    return Call("PATCH", f"/v1/subscriptions/{_seg(subscription_id)}", _one(Subscription), json=changes)


def delete_subscription(subscription_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/subscriptions/{_seg(subscription_id)}", _none)


def rotate_subscription_secret(subscription_id: str) -> Call[SubscriptionCreated]:
    return Call("POST", f"/v1/subscriptions/{_seg(subscription_id)}/rotate-secret", _one(SubscriptionCreated))


def list_deliveries(
    subscription_id: str,
    *,
    status: str | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
) -> Call[DeliveryPage]:
    params = {"status": status, "page_size": page_size, "page_token": page_token}
    path = f"/v1/subscriptions/{_seg(subscription_id)}/deliveries"
    return Call("GET", path, _one(DeliveryPage), params=params)


def get_delivery(subscription_id: str, delivery_id: int) -> Call[Delivery]:
    path = f"/v1/subscriptions/{_seg(subscription_id)}/deliveries/{int(delivery_id)}"
    return Call("GET", path, _one(Delivery))


def redeliver(subscription_id: str, delivery_id: int) -> Call[Delivery]:
    path = f"/v1/subscriptions/{_seg(subscription_id)}/deliveries/{int(delivery_id)}/redeliver"
    return Call("POST", path, _one(Delivery), idempotent=True)


# ---------------------------------------------------------------- log


def log_checkpoint(size: int | None = None) -> Call[str]:
    return Call("GET", "/v1/log/checkpoint", _text, params={"size": size})


def log_key() -> Call[str]:
    return Call("GET", "/v1/log/key", lambda r: r.text.strip())


def inclusion_proof(
    index: int | None = None, *, size: int | None = None, leaf_hash: str | bytes | None = None
) -> Call[InclusionProof]:
    if isinstance(leaf_hash, bytes):
        leaf_hash = leaf_hash.hex()
    params = {"index": index, "size": size, "leaf_hash": leaf_hash}
    return Call("GET", "/v1/log/proof/inclusion", _one(InclusionProof), params=params)


def consistency_proof(first: int, second: int) -> Call[ConsistencyProof]:
    params = {"first": first, "second": second}
    return Call("GET", "/v1/log/proof/consistency", _one(ConsistencyProof), params=params)


def log_entries(start: int, end: int | None = None) -> Call[list[LogEntry]]:
    return Call("GET", "/v1/log/entries", _many(LogEntry), params={"start": start, "end": end})


def log_tile_path(path: str) -> Call[bytes]:
    """A C2SP tlog-tiles resource by its path (``tile/0/x001/234``, ``tile/entries/000.p/7``...)."""
    return Call("GET", "/v1/log/" + path.removeprefix("/"), _bytes)


def list_witnesses() -> Call[list[Witness]]:
    return Call("GET", "/v1/log/witnesses", _many(Witness))


def register_witness(vkey: str, name: str | None = None, participant: str | None = None) -> Call[Witness]:
    body = {"vkey": vkey, "name": name, "participant": participant}
    return Call("POST", "/v1/log/witnesses", _one(Witness), json={k: v for k, v in body.items() if v})


def deactivate_witness(name: str) -> Call[Witness]:
    return Call("POST", f"/v1/log/witnesses/{_seg(name)}/deactivate", _one(Witness), idempotent=True)


def post_cosignature(cosigned_note: str) -> Call[CosignatureAccepted]:
    # Idempotent: the identical cosignature answers 200 "already_stored".
    return Call(
        "POST",
        "/v1/log/cosignatures",
        _one(CosignatureAccepted),
        content=cosigned_note.encode("utf-8"),
        headers={"Content-Type": "text/plain; charset=utf-8"},
        idempotent=True,
    )
