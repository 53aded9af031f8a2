"""HTTP routes of the feed: long poll, Server-Sent Events, and (included) webhook subscriptions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask

from app.deps import ReaderDep
from app.feed import streams
from app.feed.events import Filters, parse_cursor
from app.feed.streams import FeedRuntime
from app.feed.subscription_routes import router as subscriptions_router

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["feed"])
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


@router.get("/feed", responses={200: {"description": "`{events: [CloudEvent...], next: cursor}`"}})
async def poll_feed(
    request: Request,
    principal: ReaderDep,
    after: AfterQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    wait: Annotated[float, Query(ge=0, le=30, description="Seconds to hold the request for new events.")] = 0,
    type: TypeQuery = None,
    issuer: IssuerQuery = None,
    regime: RegimeQuery = None,
) -> Response:
    """Visible events after the cursor, in log order; with `wait`, a long poll."""
    runtime = _runtime(request)
    filters = Filters.build(type, issuer, regime)
    cursor = await _cursor(runtime, after, "after")
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
