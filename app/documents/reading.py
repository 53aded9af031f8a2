"""Read paths over documents; every one goes through :mod:`app.documents.visibility`."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.documents import repository, views
from app.documents.models import Document, DocumentChain
from app.documents.service import chain_status
from app.documents.visibility import (
    Access,
    access_to,
    any_access_clause,
    entrusted_regimes,
    full_access_clause,
)
from app.errors import BadRequest, NotFound

__all__ = ["get_visible", "list_visible", "encode_page_token", "decode_page_token", "geojson", "history"]


def encode_page_token(log_index: int) -> str:
    return base64.urlsafe_b64encode(f"i:{log_index}".encode()).decode().rstrip("=")


def decode_page_token(token: str | None) -> int | None:
    if not token:
        return None
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, value = text.partition(":")
        if prefix != "i" or not value.isdigit():
            raise ValueError(text)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest("page_token is not a token this server issued", code="invalid-page-token") from exc


def get_visible(session: Session, principal: Principal, document_id: str) -> tuple[Document, Access]:
    """The document and the caller's access to it; 404 alike for missing and invisible documents."""
    document = repository.get_document(session, document_id)
    if document is None:
        raise NotFound(f"no document {document_id}", code="document-not-found")
    access = access_to(session, principal, document)
    if access == Access.NONE:
        raise NotFound(f"no document {document_id}", code="document-not-found")
    return document, access


def list_visible(
    session: Session,
    principal: Principal,
    *,
    now: datetime,
    limit: int,
    page_token: str | None,
    **filters: Any,
) -> dict[str, Any]:
    entrusted = entrusted_regimes(session, principal)
    after = decode_page_token(page_token)
    documents = repository.list_documents(
        session,
        any_access_clause(principal, entrusted),
        after_index=after,
        limit=limit + 1,
        now=now,
        **filters,
    )
    more = len(documents) > limit
    documents = documents[:limit]
    repository.preload_chains(session, {d.chain_id for d in documents if d.chain_id})
    items = []
    for document in documents:
        access = (
            access_to(session, principal, document, entrusted) if principal.role == "auditor" else Access.FULL
        )
        items.append(views.view(session, document, access, now, detail=False))
    return {
        "documents": items,
        "next_page_token": encode_page_token(documents[-1].log_index) if more and documents else None,
    }


def history(session: Session, principal: Principal, document_id: str, now: datetime) -> list[dict[str, Any]]:
    document, access = get_visible(session, principal, document_id)
    if access != Access.FULL:
        raise NotFound(f"no document {document_id}", code="document-not-found")
    chain = repository.chain_documents(session, document.chain_id) if document.chain_id else [document]
    entrusted = entrusted_regimes(session, principal)
    return [
        views.full_view(session, d, now, detail=False)
        for d in chain
        if access_to(session, principal, d, entrusted) == Access.FULL
    ]


def _feature(
    area: dict[str, Any], role: str, document: Document, status: str, index: int | None = None
) -> dict[str, Any]:
    payload = document.payload
    properties = dict(area.get("properties") or {})
    properties.update(
        {
            "document_id": document.id,
            "chain_id": document.chain_id,
            "issuer": document.issuer,
            "regime": document.regime,
            "role": role,
            "status": status,
            "generic_class": (payload.get("vehicle") or {}).get("generic_class"),
            "category": (payload.get("vehicle") or {}).get("category"),
            "window_start": (payload.get("window") or {}).get("start"),
            "window_end": (payload.get("window") or {}).get("end"),
            "azimuth_deg": (payload.get("direction") or {}).get("azimuth_deg"),
        }
    )
    if index is not None:
        properties["impact_index"] = index
    return {
        "type": "Feature",
        "geometry": area.get("geometry"),
        "properties": properties,
        "id": f"{document.id}#{role}{'' if index is None else index}",
    }


def geojson(session: Session, principal: Principal, *, active: bool, now: datetime) -> dict[str, Any]:
    """Launch and impact areas of the current version of every notification the caller reads in full."""
    entrusted = entrusted_regimes(session, principal)
    query = (
        select(Document, DocumentChain)
        .join(DocumentChain, DocumentChain.current_id == Document.id)
        .where(full_access_clause(principal, entrusted))
        .order_by(DocumentChain.window_start)
    )
    if active:
        query = query.where(DocumentChain.status.in_(repository.CHAIN_OPEN), DocumentChain.window_end >= now)
    features: list[dict[str, Any]] = []
    for document, chain in session.execute(query):
        status = chain_status(chain, now) or "recorded"
        payload = document.payload
        if payload.get("launch_area"):
            features.append(_feature(payload["launch_area"], "launch_area", document, status))
        for i, area in enumerate(payload.get("impact_areas") or []):
            features.append(_feature(area, "impact_area", document, status, i))
    return {"type": "FeatureCollection", "features": features}
