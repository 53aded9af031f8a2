"""Acknowledging from the console, through the very submission path of ``POST /v1/documents``.

The browser signs (WebCrypto) or uploads a JWS made with ``lnx sign``; the server never sees a
private key. The JWS goes through ``intake.take_in`` (strict parse, schema, issuer, key,
signature) and the app's submission batcher (acceptance rules, log, feed, checkpoint), exactly
as an API client's would; the console adds one check of its own: the form of document X only
sends an acknowledgement *of X*, so that a wrong file cannot acknowledge something else.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from lnx_client.core.entry import format_integrated_time

from app.auth.service import Principal
from app.documents import submission
from app.errors import ValidationFailed

__all__ = ["acknowledge"]


def _refuse(message: str, pointer: str = "") -> ValidationFailed:
    return ValidationFailed(
        message, code="not-this-acknowledgement", errors=[{"pointer": pointer, "message": message}]
    )


async def acknowledge(
    request: Request, principal: Principal, document_id: str, raw: str
) -> tuple[dict[str, Any], bool]:
    """Submit an acknowledgement of ``document_id``; the receipt and whether it is new (201) or not (200)."""
    raw = raw.strip()
    if not raw:
        raise _refuse("paste or upload the signed acknowledgement (a compact JWS)")
    intake = await submission.take_in(request, principal, raw)
    if intake.payload.type != "acknowledgement":
        raise _refuse(f"this JWS is a {intake.payload.type}, not an acknowledgement", "/type")
    if intake.payload.references != document_id:
        raise _refuse(f"this JWS acknowledges {intake.payload.references}, not {document_id}", "/references")
    outcome = await submission.submit(request, intake)
    receipt = {
        **outcome.receipt,
        "entry_time": format_integrated_time(outcome.document.integrated_time),
        "jws": raw,
    }
    return receipt, outcome.created
