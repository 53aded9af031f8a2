"""Request plumbing of the console: who is signed in, CSRF checks, cookies, and error pages.

The console resolves its principal the way the API does (``app.auth.service.authenticate`` on
``Bearer <token>``), only the token comes from the sealed session cookie instead of a header.
Routes use :class:`ConsoleRoute`, which turns "not signed in" into a redirect to the sign-in
page and the service's problem errors into HTML pages (JSON problems under ``/console/api/``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from app.auth import service as auth_service
from app.auth.service import Principal
from app.console import rendering
from app.console.session import LOGIN_COOKIE, SESSION_COOKIE, SESSION_MAX_AGE_S, ConsoleKeys, load_keys
from app.db import session_scope
from app.errors import Forbidden, LnxError, Unauthorized
from app.ops import ratelimit

__all__ = [
    "ConsoleRoute",
    "ConsoleUser",
    "CurrentUser",
    "LoginRequired",
    "CsrfRefused",
    "keys_of",
    "authenticate_token",
    "is_secure",
    "set_session_cookie",
    "clear_session_cookie",
    "read_form",
    "check_same_origin",
    "set_login_cookie",
    "SessionForm",
    "LOGIN_PATH",
]

LOGIN_PATH = "/console/login"
API_PREFIX = "/console/api/"
COOKIE_PATH = "/console"


class LoginRequired(Exception):
    """No valid session: the browser is sent to the sign-in page (the cookie is cleared)."""


class CsrfRefused(Forbidden):
    code = "csrf-refused"


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """The signed-in participant and the CSRF token its forms carry."""

    principal: Principal
    csrf: str

    @property
    def code(self) -> str:
        return self.principal.code


def keys_of(request: Request) -> ConsoleKeys:
    """The install's console keys, derived once per process from the secret in the data directory."""
    state = request.app.state
    keys = getattr(state, "console_keys", None)
    if keys is None:
        keys = state.console_keys = load_keys(state.settings.data_dir)
    return keys


def authenticate_token(request: Request, token: str) -> Principal:
    """The principal behind an API token, with the API's bookkeeping (last use, rate limit)."""
    factory = request.app.state.sessionmaker
    settings = request.app.state.settings
    for session in session_scope(factory, read_only=True):
        principal = auth_service.authenticate(
            session, f"Bearer {token}", last_used_resolution_s=settings.token_last_used_resolution_s
        )
    if principal.last_used_stale:
        for session in session_scope(factory):
            auth_service.touch_token(session, principal.token_id)
    request.state.participant = principal.code
    # The token's rate limit counts console pages too: the console is one more client of the token.
    ratelimit.check(request.app.state, settings, principal.token_id)
    return principal


def current_user(request: Request) -> ConsoleUser:
    """The signed-in participant; ``LoginRequired`` when the cookie is missing, forged, expired or revoked."""
    keys = keys_of(request)
    data = keys.open(request.cookies.get(SESSION_COOKIE))
    if data is None:
        raise LoginRequired
    try:
        principal = authenticate_token(request, data.token)
    except Unauthorized as exc:
        raise LoginRequired from exc
    if "read" not in principal.scopes:
        raise LoginRequired
    user = ConsoleUser(principal=principal, csrf=keys.csrf_token("session", data.sid))
    request.state.console_user = user
    return user


CurrentUser = Annotated[ConsoleUser, Depends(current_user)]


def is_secure(request: Request) -> bool:
    """Whether the browser reached us over TLS (directly, or through a proxy that says so)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=SESSION_MAX_AGE_S,
        path=COOKIE_PATH,
        httponly=True,
        secure=is_secure(request),
        samesite="strict",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=COOKIE_PATH, httponly=True, secure=is_secure(request), samesite="strict"
    )


def set_login_cookie(response: Response, request: Request, nonce: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        path=COOKIE_PATH,
        httponly=True,
        secure=is_secure(request),
        samesite="strict",
    )


def check_same_origin(request: Request) -> None:
    """Refuse a POST whose ``Origin`` (sent by every current browser) names another host."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    if origin == "null" or urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
        raise CsrfRefused("this form was sent from another site", code="csrf-refused")


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as single values (the console's forms are all simple)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise CsrfRefused("the console accepts its own forms only", code="csrf-refused")
    body = (await request.body()).decode("utf-8", "replace")
    fields = parse_qs(body, keep_blank_values=True, strict_parsing=False, max_num_fields=50)
    return {name: values[0] for name, values in fields.items()}


async def session_form(request: Request, user: CurrentUser) -> dict[str, str]:
    """The form of a signed-in POST, after its CSRF token and origin were checked."""
    check_same_origin(request)
    form = await read_form(request)
    data = keys_of(request).open(request.cookies.get(SESSION_COOKIE))
    if data is None or not keys_of(request).check_csrf("session", data.sid, form.get("csrf_token")):
        raise CsrfRefused("the form's CSRF token is missing or wrong; reload the page", code="csrf-refused")
    return form


SessionForm = Annotated[dict[str, str], Depends(session_form)]


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = LOGIN_PATH if request.method != "GET" else f"{LOGIN_PATH}?next={quote(target, safe='')}"
    response = RedirectResponse(location, status_code=303)
    if SESSION_COOKIE in request.cookies:
        clear_session_cookie(response, request)
    return response


class ConsoleRoute(APIRoute):
    """Renders "not signed in" and problem errors the way a browser page (or the page's JS) needs."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        is_api = self.path.startswith(API_PREFIX)

        async def console_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                if is_api:
                    raise Unauthorized(
                        "sign in to the console first", code="console-session-required"
                    ) from None
                return _login_redirect(request)
            except LnxError as exc:
                if is_api:
                    raise
                return rendering.error_page(request, exc)

        return console_handler
