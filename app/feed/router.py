"""HTTP routes of the feed: long poll, Server-Sent Events, and (included) webhook subscriptions."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask
from starlette.datastructures import QueryParams

from app.deps import ReaderDep, require
from app.feed import streams
from app.feed.events import Filters, parse_cursor
from app.feed.streams import FeedRuntime
from app.feed.subscription_routes import router as subscriptions_router

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["feed"])
require_reader = require("read")
_NO_FILTERS = Filters()
router.include_router(subscriptions_router)

TypeQuery = Annotated[
    list[str] | None,
    Query(
        description="Event types: `pre-launch` or `org.lnx.document.pre-launch.v1`, `reminder`; repeatable."
    ),
]
IssuerQuery = Annotated[list[str] | None, Query(description="Issuer codes; repeatable.")]
RegimeQuery = Annotated[list[str] | None, Query(description="Regime ids; repeatable.")]
AfterQuery = Annotated[
    str | None,
    Query(description="Cursor: the id of the last event seen, `0` for the beginning, or `latest`."),
]


def _runtime(request: Request) -> FeedRuntime:
    return request.app.state.feed


async def _cursor(runtime: FeedRuntime, value: str | None, name: str) -> int:
    if value is not None and value.strip() == "latest":
        return await runtime.current_head()
    cursor = parse_cursor(value, name=name) or 0
    await runtime.check_cursor(cursor)
    return cursor


def _query_parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_LIST = {"type": "array", "items": {"type": "string"}}
_FEED_PARAMETERS = [
    _query_parameter(
        "after",
        "Cursor: the id of the last event seen, `0` for the beginning, or `latest`.",
        {"type": "string"},
    ),
    _query_parameter(
        "limit", "Most events returned.", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
    ),
    _query_parameter(
        "wait",
        "Seconds to hold the request for new events.",
        {"type": "number", "minimum": 0, "maximum": 30, "default": 0},
    ),
    _query_parameter(
        "type",
        "Event types: `pre-launch` or `org.lnx.document.pre-launch.v1`, `reminder`; repeatable.",
        _LIST,
    ),
    _query_parameter("issuer", "Issuer codes; repeatable.", _LIST),
    _query_parameter("regime", "Regime ids; repeatable.", _LIST),
]


def _invalid(name: str, message: str, kind: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", name), "msg": message, "type": kind}])


def _number(query: QueryParams, name: str, default: float, lo: float, hi: float, *, integer: bool) -> float:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise _invalid(
            name, f"Input should be {kind}", "int_parsing" if integer else "float_parsing"
        ) from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise _invalid(name, f"Input should be between {lo:g} and {hi:g}", "range")
    return value


@router.get(
    "/feed",
    responses={200: {"description": "`{events: [CloudEvent...], next: cursor}`"}},
    openapi_extra={"parameters": _FEED_PARAMETERS},
)
async def poll_feed(request: Request) -> Response:
    """Visible events after the cursor, in log order; with `wait`, a long poll."""
    # The query is read by hand (and documented through ``openapi_extra``) and the principal is
    # asked for directly: polling an up-to-date cursor is the hottest read of the exchange, and
    # FastAPI's per-parameter validation and dependency tree cost more than the rest of it.
    principal = await require_reader(request)
    query = request.query_params
    runtime = _runtime(request)
    limit = int(_number(query, "limit", 100, 1, 1000, integer=True))
    wait = _number(query, "wait", 0.0, 0, 30, integer=False)
    filters = (
        Filters.build(query.getlist("type"), query.getlist("issuer"), query.getlist("regime"))
        if ("type" in query or "issuer" in query or "regime" in query)
        else _NO_FILTERS
    )
    cursor = await _cursor(runtime, query.get("after"), "after")
    release = runtime.slots.acquire()
    try:
        wait_s = min(wait, runtime.settings.max_feed_wait_s)
        body = await streams.long_poll(runtime, principal, cursor, limit, wait_s, filters)
    finally:
        release()
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


@router.get("/stream", responses={200: {"content": {"text/event-stream": {}}}})
async def stream_feed(
    request: Request,
    principal: ReaderDep,
    after: AfterQuery = None,
    type: TypeQuery = None,
    issuer: IssuerQuery = None,
    regime: RegimeQuery = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    """Server-Sent Events: `id:` = cursor; resume with `Last-Event-ID` (it wins over `after`)."""
    runtime = _runtime(request)
    filters = Filters.build(type, issuer, regime)
    if last_event_id is not None and last_event_id.strip():
        cursor = await _cursor(runtime, last_event_id, "Last-Event-ID")
    else:
        cursor = await _cursor(runtime, after, "after")
    release = runtime.slots.acquire()
    try:
        body = streams.sse_stream(runtime, principal, cursor, filters, release)
        return EventSourceResponse(
            body,
            ping=0,  # the stream writes its own keepalive comments (settings.sse_keepalive_s)
            send_timeout=streams.SSE_SEND_TIMEOUT_S,
            headers={"Cache-Control": "no-store"},
            # Also released here in case the body never starts (HEAD, early disconnect).
            background=BackgroundTask(release),
        )
    except BaseException:
        release()
        raise
