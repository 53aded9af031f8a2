"""Server-side rendering of the console: one Jinja2 environment, filters for UTC times, and the
security headers every page carries.

The Content-Security-Policy allows scripts, styles, images and ``fetch`` from this origin only:
besides keeping injected markup inert, it makes "the console never contacts an outside host" a
rule the browser enforces, not only a habit of the code.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from app.console import assets
from app.errors import LnxError

__all__ = ["SECURITY_HEADERS", "page", "error_page", "environment", "utc_text"]

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _as_datetime(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text).astimezone(UTC)


def utc_text(value: datetime | str | None, seconds: bool = False) -> str:
    """``2026-03-01 06:00 UTC``: what a duty officer reads, whatever the browser's zone."""
    when = _as_datetime(value)
    if when is None:
        return "—"
    return when.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def _utc_time(value: datetime | str | None, seconds: bool = False) -> Markup:
    """A ``<time>`` in UTC; ``console.js`` adds the local time with its offset as the hover title."""
    when = _as_datetime(value)
    if when is None:
        return Markup("—")
    iso = when.isoformat().replace("+00:00", "Z")
    return Markup('<time datetime="{0}" data-utc="{0}" title="{1}">{1}</time>').format(
        iso, utc_text(when, seconds)
    )


def _pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def _json_attr(value: Any) -> str:
    """JSON for a ``data-*`` attribute (escaped by autoescaping, parsed by the page's script)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _build_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("app.console", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = _utc_time
    env.filters["utc_text"] = utc_text
    env.filters["pretty_json"] = _pretty_json
    env.filters["json_attr"] = _json_attr
    env.globals["static_url"] = assets.url_for
    return env


environment = _build_environment()


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a console page with the signed-in user (if any) and the security headers."""
    context.setdefault("user", getattr(request.state, "console_user", None))
    context.setdefault("path", request.url.path)
    html = environment.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def error_page(request: Request, exc: LnxError) -> HTMLResponse:
    """A problem error as a page; a 404 reads the same for a missing and an invisible document."""
    return page(
        request,
        "error.html",
        status_code=exc.status,
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
    )
