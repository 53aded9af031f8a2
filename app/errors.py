"""One error hierarchy, rendered as RFC 9457 problem details (``application/problem+json``).

Services raise :class:`LnxError` subclasses with a stable ``code``; the handlers here turn them, and
framework errors, into problem documents. Messages that clients see are constants or built from
the client's own input, never from internals; a 500 says nothing but its request id.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.requestctx import current_request_id

__all__ = [
    "LnxError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "Gone",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "ValidationFailed",
    "TooManyRequests",
    "ServiceUnavailable",
    "problem_response",
    "install_error_handlers",
    "PROBLEM_TYPE_BASE",
]

PROBLEM_TYPE_BASE = "urn:lnx:problem:"
logger = logging.getLogger("lnx.errors")


class LnxError(Exception):
    """Base of every error a client may see."""

    status: int = 400
    code: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code:
            self.code = code
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(LnxError):
    status, code, title = 400, "bad-request", "Bad request"


class Unauthorized(LnxError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="lnx"'})
        super().__init__(detail, **kw)


class Forbidden(LnxError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(LnxError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(LnxError):
    status, code, title = 409, "conflict", "Conflict"


class Gone(LnxError):
    status, code, title = 410, "gone", "Gone"


class PayloadTooLarge(LnxError):
    status, code, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(LnxError):
    status, code, title = 415, "unsupported-media-type", "Unsupported media type"


class ValidationFailed(LnxError):
    status, code, title = 422, "validation-failed", "Validation failed"


class TooManyRequests(LnxError):
    status, code, title = 429, "rate-limited", "Too many requests"


class ServiceUnavailable(LnxError):
    status, code, title = 503, "unavailable", "Service unavailable"


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": f"urn:lnx:request:{current_request_id()}",
    }
    if errors:
        body["errors"] = errors
    if extra:
        # Extension members never overwrite the RFC 9457 members (type, title, status, ...).
        body.update({k: v for k, v in extra.items() if k not in body})
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/problem+json", headers=headers or None
    )


def _pointer(loc: tuple[Any, ...]) -> str:
    """JSON Pointer (RFC 6901) from a FastAPI error location, without the leading 'body'/'query'."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in loc]
    return "/" + "/".join(parts) if parts else ""


_STATUS_CODES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many requests"),
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LnxError)
    async def _lnx_error(_request: Request, exc: LnxError) -> Response:
        return problem_response(
            exc.status,
            exc.code,
            exc.title,
            exc.detail,
            errors=exc.errors,
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        errors = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            where = loc[0] if loc else "body"
            rest = loc[1:] if where in {"body", "query", "path", "header", "cookie"} else loc
            entry = {"pointer": _pointer(rest), "message": str(err.get("msg", "invalid"))}
            if where != "body":
                entry = {"parameter": str(rest[0]) if rest else str(where), "in": str(where), **entry}
            errors.append(entry)
        return problem_response(
            422,
            "validation-failed",
            "Validation failed",
            "The request does not match the schema.",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        code, title = _STATUS_CODES.get(exc.status_code, ("http-error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        return problem_response(exc.status_code, code, title, detail, headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error", exc_info=exc)
        return problem_response(
            500,
            "internal-error",
            "Internal server error",
            "An unexpected error occurred; quote the instance id.",
        )
