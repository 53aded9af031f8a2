"""Receipts of documents and their verification on the server ("verify via the API").

The browser verifies a receipt itself (``static/verify.js``); this is the second opinion for a
browser without WebCrypto, made with the same pure core an auditor's ``lnx verify`` uses:
:func:`lnx_client.core.tlogproof.verify_tlog_proof` over the leaf rebuilt from the stored JWS.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from lnx_client.core.entry import entry_bytes, format_integrated_time
from lnx_client.core.note import Verifier
from lnx_client.core.tlogproof import verify_tlog_proof
from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.documents import reading, views
from app.documents.visibility import Access
from app.log import service as log_service

__all__ = ["receipt_of", "verify_receipt"]


def receipt_of(session: Session, principal: Principal, document_id: str) -> dict[str, Any]:
    """The receipt of a document the caller may see, with what a verifier needs to rebuild the leaf.

    ``jws`` is included only for readers of the content; a metadata-only auditor checks the
    inclusion of the leaf hash, which is public in the log anyway.
    """
    document, access = reading.get_visible(session, principal, document_id)
    body = views.receipt(document, log_service.receipt_proof(session, document.log_index))
    body["entry_time"] = format_integrated_time(document.integrated_time)
    body["jws"] = document.jws if access == Access.FULL else None
    return body


def verify_receipt(
    session: Session, principal: Principal, document_id: str, *, log_vkey: str, origin: str, now: datetime
) -> dict[str, Any]:
    """Verify a visible document's receipt on the server; says why when it does not verify."""
    document, _access = reading.get_visible(session, principal, document_id)
    proof = log_service.receipt_proof(session, document.log_index)
    leaf = entry_bytes(document.jws, document.integrated_time)
    try:
        checkpoint = verify_tlog_proof(proof, leaf, Verifier.from_vkey(log_vkey), origin=origin)
    except ValueError as exc:
        return {"verified": False, "document_id": document.id, "reason": str(exc)}
    return {
        "verified": True,
        "document_id": document.id,
        "log_index": document.log_index,
        "leaf_hash": document.leaf_hash,
        "checkpoint": {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root_hash": base64.b64encode(checkpoint.root_hash).decode(),
        },
        "log_key": log_vkey,
        "verified_at": views.iso(now),
    }
