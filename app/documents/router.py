"""HTTP routes of documents: submit, read, list, history, GeoJSON and CAP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response

from app.db import utcnow
from app.deps import CurrentPrincipal, ReaderDep, ReadSessionDep, SettingsDep, get_principal
from app.documents import reading, submission, views
from app.documents.visibility import Access
from app.errors import BadRequest, NotFound, UnsupportedMediaType, ValidationFailed

router = APIRouter(prefix="/v1", tags=["documents"])

JOSE = "application/jose"
_SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            JOSE: {"schema": {"type": "string", "description": "A compact JWS (RFC 7515)."}},
            "application/json": {
                "schema": {"type": "object", "properties": {"jws": {"type": "string"}}, "required": ["jws"]}
            },
        },
    }
}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


async def _read_jws(request: Request) -> str:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if content_type == JOSE:
        try:
            return body.decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise ValidationFailed(
                "a compact JWS is ASCII",
                code="jws-not-ascii",
                errors=[{"pointer": "", "message": "not ASCII"}],
            ) from exc
    if content_type == "application/json":
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequest("the body is not valid JSON", code="malformed-json") from exc
        if not isinstance(obj, dict) or set(obj) != {"jws"} or not isinstance(obj["jws"], str):
            raise ValidationFailed(
                'the body must be {"jws": "<compact JWS>"}',
                errors=[{"pointer": "/jws", "message": "required, a string, and the only member"}],
            )
        return obj["jws"]
    raise UnsupportedMediaType(f"send {JOSE} or application/json, not {content_type or 'nothing'}")


@router.post(
    "/documents",
    status_code=201,
    openapi_extra=_SUBMIT_BODY,
    responses={200: {"description": "Already accepted (idempotent)."}},
)
async def submit(request: Request, principal: CurrentPrincipal) -> Response:
    """Submit a signed document; answers with its receipt once it is committed and logged."""
    raw = await _read_jws(request)
    outcome = await submission.submit_signed(request, principal, raw)
    return _json(
        outcome.receipt, 201 if outcome.created else 200, {"Location": f"/v1/documents/{outcome.document.id}"}
    )


async def submit_direct(request: Request) -> Response:
    """``submit`` as a direct route (``app/direct.py``): the caller from the same dependency, awaited here."""
    return await submit(request, await get_principal(request))


DIRECT_ROUTES = {("POST", "/v1/documents"): submit_direct}

DocumentType = Literal[
    "pre-launch", "pre-launch-update", "cancellation", "post-launch", "acknowledgement", "annual-declaration"
]
Status = Literal["scheduled", "updated", "cancelled", "launched", "expired"]


@router.get("/documents")
def list_documents(
    session: ReadSessionDep,
    principal: ReaderDep,
    settings: SettingsDep,
    type: Annotated[list[DocumentType] | None, Query()] = None,
    issuer: str | None = None,
    regime: str | None = None,
    vehicle_class: Annotated[str | None, Query(alias="class")] = None,
    window_from: datetime | None = None,
    window_to: datetime | None = None,
    status: Status | None = None,
    page_size: Annotated[int | None, Query(ge=1)] = None,
    page_token: str | None = None,
) -> Response:
    """Documents the caller may see, in log order, with cursor pagination."""
    limit = min(page_size or settings.default_page_size, settings.max_page_size)
    body = reading.list_visible(
        session,
        principal,
        now=utcnow(),
        limit=limit,
        page_token=page_token,
        types=type or (),
        issuer=issuer,
        regime=regime,
        vehicle_class=vehicle_class,
        window_from=window_from,
        window_to=window_to,
        status=status,
    )
    return _json(body)


@router.get("/documents.geojson", responses={200: {"content": {"application/geo+json": {}}}})
def documents_geojson(session: ReadSessionDep, principal: ReaderDep, active: bool = True) -> Response:
    """Launch and impact areas of the notifications the caller may read, as a GeoJSON FeatureCollection."""
    body = reading.geojson(session, principal, active=active, now=utcnow())
    return Response(orjson.dumps(body), media_type="application/geo+json")


@router.get("/documents/{document_id}.cap", responses={200: {"content": {"application/cap+xml": {}}}})
def document_cap(document_id: str, session: ReadSessionDep, principal: ReaderDep) -> Response:
    """The notification as an OASIS CAP 1.2 alert for aviation and maritime warning systems."""
    from app.documents import cap

    document, access = reading.get_visible(session, principal, document_id)
    xml = cap.alert_for(session, principal, document, access)
    return Response(xml, media_type="application/cap+xml")


@router.get("/documents/{document_id}/history")
def document_history(document_id: str, session: ReadSessionDep, principal: ReaderDep) -> Response:
    """Every version of the notification chain the document belongs to, oldest first."""
    return _json({"documents": reading.history(session, principal, document_id, utcnow())})


@router.get("/documents/{document_id}", responses={200: {"content": {JOSE: {}}}})
def get_document(
    document_id: str, request: Request, session: ReadSessionDep, principal: ReaderDep
) -> Response:
    """One document as JSON, or its exact JWS with ``Accept: application/jose``."""
    document, access = reading.get_visible(session, principal, document_id)
    accept = request.headers.get("accept", "")
    if JOSE in accept and "application/json" not in accept:
        if access != Access.FULL:  # as for history and CAP: no content path shows more than metadata
            raise NotFound(f"no document {document_id}", code="document-not-found")
        return Response(document.jws, media_type=JOSE)
    return _json(views.view(session, document, access, utcnow()))
