"""The ASGI application: ``create_app()`` wires settings, the database, routers and error handling."""

from __future__ import annotations

import gc
import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker, session_scope
from app.direct import ExchangeApp
from app.errors import install_error_handlers
from app.logging_setup import configure_logging
from app.middleware import RequestContextMiddleware
from app.migrate import SchemaState, schema_state
from app.models import load_all_models

__all__ = ["create_app", "SchemaNotCurrent"]

logger = logging.getLogger("lnx.app")

# Routers of every domain; a domain plugs its background work in through ``app.state.lifecycle``.
# Routes are tried in this order, so the hottest comes first: reaching POST /v1/documents behind
# the other routers cost 54 µs of matching per submission, first 5 µs. No other router has a
# path under /v1/documents (``tests/test_main.py`` checks), so the order changes no answer.
ROUTER_MODULES = (
    "app.documents.router",
    "app.ops.router",
    "app.participants.router",
    "app.regimes.router",
    "app.log.router",
    "app.feed.router",
    "app.reports.router",
    "app.console.router",
)
# Modules exposing ``async def run(app)`` context managers started with the app (integrator, workers, ...).
LIFECYCLE_MODULES = (
    "app.log.lifecycle",
    "app.documents.lifecycle",
    "app.feed.lifecycle",
    "app.ops.metrics",
    "app.reports.lifecycle",
)


class SchemaNotCurrent(RuntimeError):
    """The database schema is not at the newest migration; the message says what to run."""


def _optional_module(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not name.startswith(exc.name):
            raise
        return None


def check_schema(engine: Any) -> None:
    state, revision = schema_state(engine)
    if state == SchemaState.CURRENT:
        return
    if state == SchemaState.EMPTY:
        raise SchemaNotCurrent(
            "the database is empty: run `lnx db upgrade` (or `lnx serve`, which migrates it)"
        )
    if state == SchemaState.OUTDATED:
        raise SchemaNotCurrent(
            f"the database schema is at revision {revision}, behind this release: run `lnx db upgrade`"
        )
    raise SchemaNotCurrent(
        f"the database schema ({revision}) is unknown to this release: is the release older?"
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    load_all_models()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings.resolved_database_url,
            pool_size=settings.db_pool_size,
            sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            sqlite_cache_mib=settings.sqlite_cache_mib,
        )
        check_schema(engine)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.readiness_probes = {}
        from app.regimes import service as regimes_service

        try:
            for session in session_scope(app.state.sessionmaker):
                regimes_service.ensure_shipped_regimes(session)
        except Exception:  # noqa: BLE001 - another worker seeding at the same moment wins; that is fine
            logger.info("shipped regimes were seeded concurrently")
        stack: list[Any] = []
        try:
            for name in LIFECYCLE_MODULES:
                module = _optional_module(name)
                if module is not None:
                    ctx = module.run(app)
                    await ctx.__aenter__()
                    stack.append(ctx)
            if settings.gc_freeze_after_startup:
                _freeze_startup_objects(settings.gc_young_threshold)
            yield
        finally:
            for ctx in reversed(stack):
                await ctx.__aexit__(None, None, None)
            engine.dispose()

    app = ExchangeApp(
        title="Launch Notification Exchange",
        version="1.0.0",
        summary="Signed ballistic-missile and space-launch notifications with an auditable Merkle log.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    install_error_handlers(app)
    for name in ROUTER_MODULES:
        module = _optional_module(name)
        if module is not None:
            app.include_router(module.router)
            for (method, path), endpoint in getattr(module, "DIRECT_ROUTES", {}).items():
                app.direct_routes.add(module.router, method, path, endpoint)
    context = {"max_body_bytes": settings.max_body_bytes, "access_log": settings.access_log}
    app.add_middleware(RequestContextMiddleware, **context)
    app.wrap_direct_routes(lambda direct: RequestContextMiddleware(direct, **context))
    return app


def _freeze_startup_objects(young_threshold: int) -> None:
    """Keep the objects of startup (modules, the app, SQLAlchemy's metadata) out of full collections.

    A full (generation 2) collection walks every tracked object. In a served process most of them
    are startup's, alive until exit; measured with 1,000 SSE streams open, each full collection
    stalled the process for 120-250 ms, every few seconds, and delayed every stream's events by as
    much (``bench/feed.py`` (a): p99 301 ms, 262 ms with the freeze). ``gc.freeze`` is the
    standard remedy (CPython docs, "gc.freeze"); not for processes that build many apps (tests),
    whose garbage would be frozen too.

    The young generation is collected after ``young_threshold`` net allocations instead of 700:
    a submission allocates thousands of short-lived objects (parsed JSON, the pydantic model,
    shapely geometries, SQL parameters), nearly all freed by reference counting, so the default
    ran several collections per request for nothing. Measured with ``bench/submit.py``'s load
    (PostgreSQL, 2 workers, 64 clients, alternating runs): 1.27 -> 1.17 ms of worker CPU per
    document, p99 236-370 -> 144-147 ms. Memory stays bounded: only cyclic garbage waits longer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, *gc.get_threshold()[1:])


AppFactory = Callable[[], FastAPI]
