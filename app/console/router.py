"""Routes of the duty officers' console under ``/console``: thin, each one page or one JSON read."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from app.console import assets, rendering, service, submission, verification
from app.console.session import LOGIN_COOKIE, new_login_nonce
from app.console.web import (
    LOGIN_PATH,
    ConsoleRoute,
    CsrfRefused,
    CurrentUser,
    SessionForm,
    authenticate_token,
    check_same_origin,
    clear_session_cookie,
    keys_of,
    read_form,
    set_login_cookie,
    set_session_cookie,
)
from app.db import session_scope, utcnow
from app.deps import ReadSessionDep
from app.documents import reading
from app.errors import LnxError, NotFound, Unauthorized
from app.reports import compliance as reports_compliance

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)
HOME = "/console/"
PAGE_SIZE = 50


def _safe_next(target: str | None) -> str:
    """Only a console path is a place to return to after signing in (no open redirect)."""
    if target and target.startswith("/console/") and "//" not in target and "\\" not in target:
        return target
    return HOME


def _log_origin(request: Request) -> str:
    return str(request.app.state.settings.log_origin)


def _json(body: object, media_type: str = "application/json") -> Response:
    return Response(orjson.dumps(body), media_type=media_type, headers=rendering.SECURITY_HEADERS)


# ------------------------------------------------------------------------- signing in and out


@router.get("")
def console_root() -> RedirectResponse:
    """``/console`` is ``/console/``."""
    return RedirectResponse(HOME, status_code=308)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form; it carries a CSRF token bound to a fresh pre-session cookie."""
    nonce = new_login_nonce()
    response = rendering.page(
        request,
        "login.html",
        csrf=keys_of(request).csrf_token("login", nonce),
        next=_safe_next(next),
        error=None,
    )
    set_login_cookie(response, request, nonce)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the token with the auth service and open a session; the token never reaches a page."""
    check_same_origin(request)
    form = await read_form(request)
    keys = keys_of(request)
    if not keys.check_csrf("login", request.cookies.get(LOGIN_COOKIE), form.get("csrf_token")):
        raise CsrfRefused("the sign-in form has expired; load it again", code="csrf-refused")
    token = form.get("token", "").strip()
    try:
        principal = await run_in_threadpool(authenticate_token, request, token)
        if "read" not in principal.scopes:
            raise Unauthorized(
                "this token has no 'read' scope: the console needs one", code="scope-not-allowed"
            )
    except Unauthorized as exc:
        nonce = new_login_nonce()
        response = rendering.page(
            request,
            "login.html",
            status_code=401,
            csrf=keys.csrf_token("login", nonce),
            next=_safe_next(form.get("next")),
            error=exc.detail,
        )
        set_login_cookie(response, request, nonce)
        return response
    cookie, _data = keys.seal(token)
    response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
    set_session_cookie(response, request, cookie)
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


@router.post("/logout")
def logout(request: Request, _form: SessionForm) -> Response:
    """Forget the session in this browser (revoking the token ends it everywhere)."""
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    clear_session_cookie(response, request)
    return response


# ------------------------------------------------------------------------- pages


@router.get("/")
def overview(request: Request, user: CurrentUser, session: ReadSessionDep) -> Response:
    """Upcoming launch windows (30 days) as a timeline, and the map of their areas."""
    return rendering.page(request, "overview.html", **service.overview(session, user.principal, utcnow()))


@router.get("/documents")
def documents(
    request: Request,
    user: CurrentUser,
    session: ReadSessionDep,
    page_token: str | None = None,
    type: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """The documents the participant may see, in log order."""
    listing = service.document_list(
        session, user.principal, utcnow(), page_token=page_token, limit=PAGE_SIZE, types=tuple(type or ())
    )
    return rendering.page(request, "documents.html", listing=listing, types=type or [])


@router.get("/documents/{document_id}")
def document(document_id: str, request: Request, user: CurrentUser, session: ReadSessionDep) -> Response:
    """One document: content, status, chain, findings, acknowledgements, signature and log inclusion."""
    context = service.document_page(session, user.principal, document_id, utcnow())
    return rendering.page(request, "document.html", log_origin=_log_origin(request), **context)


def _document_context(request: Request, user: CurrentUser, document_id: str) -> dict[str, object]:
    for session in session_scope(request.app.state.sessionmaker, read_only=True):
        return service.document_page(session, user.principal, document_id, utcnow())
    raise AssertionError("unreachable")


@router.post("/documents/{document_id}/acknowledge")
async def acknowledge(document_id: str, request: Request, user: CurrentUser, form: SessionForm) -> Response:
    """Submit a signed acknowledgement through the API's submission path; show its receipt."""
    try:
        receipt, created = await submission.acknowledge(
            request, user.principal, document_id, form.get("jws", "")
        )
    except LnxError as exc:
        context = await run_in_threadpool(_document_context, request, user, document_id)
        return rendering.page(
            request,
            "document.html",
            status_code=exc.status,
            ack_error=exc,
            log_origin=_log_origin(request),
            **context,
        )
    return rendering.page(
        request,
        "receipt.html",
        status_code=201 if created else 200,
        receipt=receipt,
        created=created,
        document_id=document_id,
        log_origin=_log_origin(request),
    )


@router.get("/compliance")
def compliance(
    request: Request,
    user: CurrentUser,
    session: ReadSessionDep,
    year: Annotated[int | None, Query(ge=1957, le=2100)] = None,
) -> Response:
    """The compliance report of a year, as ``GET /v1/reports/compliance`` gives it to this participant."""
    now = utcnow()
    chosen = year or now.year
    report = reports_compliance.compliance_report(session, user.principal, year=chosen, regime=None, now=now)
    return rendering.page(request, "compliance.html", year=chosen, report=report, this_year=now.year)


# ------------------------------------------------------------------------- JSON for the pages' scripts


@router.get("/api/geojson")
def geojson(user: CurrentUser, session: ReadSessionDep) -> Response:
    """The areas of the map: the same FeatureCollection as ``GET /v1/documents.geojson?active=true``."""
    body = reading.geojson(session, user.principal, active=True, now=utcnow())
    return _json(body, "application/geo+json")


@router.get("/api/documents/{document_id}/receipt")
def receipt(document_id: str, user: CurrentUser, session: ReadSessionDep) -> Response:
    """The document's receipt (tlog-proof against the newest checkpoint) for the browser to verify."""
    return _json(verification.receipt_of(session, user.principal, document_id))


@router.get("/api/documents/{document_id}/verification")
def verify(document_id: str, request: Request, user: CurrentUser, session: ReadSessionDep) -> Response:
    """Verify the document's receipt on the server with the shared pure core."""
    body = verification.verify_receipt(
        session,
        user.principal,
        document_id,
        log_vkey=request.app.state.log_verifier_key,
        origin=request.app.state.settings.log_origin,
        now=utcnow(),
    )
    return _json(body)


# ------------------------------------------------------------------------- static files


@router.get("/static/{name}")
def static_file(name: str, request: Request, v: str | None = None) -> Response:
    """CSS, scripts and the basemap, from the package; cached for good when the URL names their hash."""
    file = assets.get(name)
    if file is None:
        raise NotFound(f"no static file {name}")
    cache = "public, max-age=31536000, immutable" if v == file.etag else "no-cache"
    headers = {"ETag": f'"{file.etag}"', "Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == f'"{file.etag}"':
        return Response(status_code=304, headers=headers)
    return Response(file.body, media_type=file.media_type, headers=headers)
