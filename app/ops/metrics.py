"""Prometheus metrics at ``/metrics``: HTTP traffic per route, and the exchange's state read on scrape.

Two kinds of numbers, measured in the cheapest place for each:

- **Traffic** (requests and latency per route template, method and status) is counted by the
  request middleware (``app.middleware``) through :class:`HttpMetrics`: a few microseconds per
  request, per process.
- **State** (documents accepted by type, log size, integration lag, checkpoint age, webhook
  backlog) lives in the database, so :class:`ExchangeCollector` reads it with a handful of
  aggregate queries when Prometheus scrapes, cached for a few seconds. Every process reports
  the same values; no other module has to remember to increment anything.

Several uvicorn workers (``lnx serve --workers N``) share one port, so a scrape reaches one of
them at random: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory and the traffic metrics
are written to memory-mapped files there and summed over every worker on each scrape
(prometheus-client's multi-process mode; ``lnx serve`` empties the directory at start).

``run(app)`` is the operations lifecycle ``create_app`` enters at startup (it also takes the
serving lock that ``lnx db restore`` checks).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import BigInteger, column, func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from app.config import Settings
from app.db import UTCDateTime, session_scope, utcnow
from app.documents.models import Document
from app.errors import Forbidden, NotFound
from app.log.models import LogCheckpoint, LogSequence, LogTreeHead
from app.ops import backup

__all__ = [
    "LATENCY_BUCKETS",
    "HttpMetrics",
    "ExchangeCollector",
    "run",
    "render",
    "client_allowed",
    "multiprocess_dir",
    "prepare_multiprocess_dir",
    "open_subscribers",
]

logger = logging.getLogger("lnx.metrics")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds; fine below 100 ms, where submissions and reads live, coarse above for long polls."""

DOCUMENT_TYPES = (
    "pre-launch",
    "pre-launch-update",
    "cancellation",
    "post-launch",
    "acknowledgement",
    "annual-declaration",
)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UNMATCHED = "<unmatched>"
STATE_CACHE_S = 5.0
"""Scrapes within this many seconds reuse the previous database reading (several scrapers, one load)."""
REFRESH_S = 1.0
"""A worker refreshes its share of the summed gauges at most this often (on its own requests)."""


def multiprocess_dir() -> str | None:
    """The multi-process directory, when prometheus-client's multi-process mode is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def prepare_multiprocess_dir() -> None:
    """Empty the multi-process directory before workers start (stale files would add old counts)."""
    path = multiprocess_dir()
    if not path:
        return
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for child in directory.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


class HttpMetrics:
    """Request counts and latency per route *template* (``/v1/documents/{document_id}``), never raw path.

    Raw paths and unknown methods would give every scanner's URL its own time series; both are
    folded into fixed labels so the number of series stays bounded by the routes we serve.
    """

    def __init__(self, registry: CollectorRegistry | None, state: Any = None) -> None:
        self._state = state
        self._refreshed = 0.0
        # The labelled children by (method, route, status): ``labels()`` checks and converts its
        # arguments on every call, a few per cent of a submission's CPU. Bounded as the labels are.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.requests = Counter(
            "lnx_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "lnx_http_request_duration_seconds",
            "Time from request to the end of the response, by method and route template "
            "(streams and long polls count their whole duration).",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.subscribers = Gauge(
            "lnx_feed_subscribers_open",
            "Open SSE streams and waiting long polls.",
            registry=registry,
            multiprocess_mode="livesum",
        )

    def observe(self, scope: dict[str, Any], status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or _UNMATCHED
        method = scope.get("method") or "OTHER"
        if method not in _METHODS:
            method = "OTHER"
        children = self._children.get((method, template, status))
        if children is None:
            children = self._children[(method, template, status)] = (
                self.requests.labels(method, template, str(status)),
                self.latency.labels(method, template),
            )
        children[0].inc()
        children[1].observe(seconds)
        now = time.monotonic()
        if now - self._refreshed >= REFRESH_S:
            # Each worker keeps its share of the summed gauge fresh as it answers requests, so a
            # scrape that lands on another worker still sees it (no background task needed).
            self._refreshed = now
            self.refresh()

    def refresh(self) -> None:
        self.subscribers.set(open_subscribers(self._state))


def open_subscribers(state: Any) -> int:
    """Open SSE streams and waiting long polls of this process, as the feed counts them.

    The feed keeps its stream slots on ``app.state.feed.slots`` (``used``); a module may instead
    put an ``int``, a zero-argument callable or a collection on ``app.state.feed_subscribers``.
    Without either the answer is 0.
    """
    slots = getattr(getattr(state, "feed", None), "slots", None)
    if isinstance(getattr(slots, "used", None), int):
        return int(slots.used)
    value = getattr(state, "feed_subscribers", None)
    if value is None:
        return 0
    if callable(value):
        value = value()
    if isinstance(value, int | float):
        return int(value)
    try:
        return len(value)
    except TypeError:
        return 0


@dataclass
class _Reading:
    at: float
    metrics: list[Metric] = field(default_factory=list)


class ExchangeCollector(Collector):
    """Reads the exchange's state from the database at scrape time (a custom collector)."""

    def __init__(self, sessionmaker: Any, *, cache_s: float = STATE_CACHE_S) -> None:
        self._sessionmaker = sessionmaker
        self._cache_s = cache_s
        self._cached: _Reading | None = None
        self._lock = threading.Lock()
        self._webhook_tables: set[str] | None = None

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached.at >= self._cache_s:
                self._cached = _Reading(now, self._read())
            return list(self._cached.metrics)

    def _read(self) -> list[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily("lnx_database_up", "1 if the last scrape could read the database.")
        try:
            metrics = list(self._read_database())
        except SQLAlchemyError as exc:
            logger.warning("metrics could not read the database", extra={"error": type(exc).__name__})
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        took = GaugeMetricFamily(
            "lnx_metrics_scrape_seconds", "Time the last scrape spent reading the database."
        )
        took.add_metric([], time.perf_counter() - started)
        return [up, took, *metrics]

    def _read_database(self) -> Iterator[Metric]:
        for session in session_scope(self._sessionmaker, read_only=True):
            docs = CounterMetricFamily(
                "lnx_documents_accepted", "Documents accepted and stored, by type.", labels=["type"]
            )
            counts = dict.fromkeys(DOCUMENT_TYPES, 0)  # every type present from the start, so rates work
            counts.update(session.execute(select(Document.type, func.count()).group_by(Document.type)).all())
            for doc_type, count in sorted(counts.items()):
                docs.add_metric([doc_type], count)
            yield docs

            tree_size = session.execute(select(LogTreeHead.size).where(LogTreeHead.id == 1)).scalar() or 0
            next_index = session.execute(select(LogSequence.next_index).where(LogSequence.id == 1)).scalar()
            next_index = tree_size if next_index is None else next_index
            newest = session.execute(
                select(LogCheckpoint.created_at).order_by(LogCheckpoint.size.desc()).limit(1)
            ).scalar()
            yield _gauge("lnx_log_tree_size", "Entries covered by the newest signed checkpoint.", tree_size)
            yield _gauge("lnx_log_sequenced_entries", "Entries given a log index (committed).", next_index)
            yield _gauge(
                "lnx_log_integration_lag_entries",
                "Entries sequenced but not yet covered by a signed checkpoint.",
                max(0, next_index - tree_size),
            )
            if newest is not None:
                yield _gauge(
                    "lnx_log_checkpoint_age_seconds",
                    "Age of the newest signed checkpoint (grows while no entries arrive).",
                    (utcnow() - newest).total_seconds(),
                )
            yield from self._webhooks(session)

    def _webhooks(self, session: Any) -> Iterator[Metric]:
        # The webhook tables arrive with the feed's migration; read them only where they exist.
        if self._webhook_tables is None or "feed_deliveries" not in self._webhook_tables:
            self._webhook_tables = set(inspect(session.connection()).get_table_names())
        tables = self._webhook_tables
        if "feed_deliveries" in tables:
            by_status = GaugeMetricFamily(
                "lnx_webhook_deliveries", "Webhook deliveries by status.", labels=["status"]
            )
            for status, count in session.execute(
                text("SELECT status, count(*) FROM feed_deliveries GROUP BY status")
            ).all():
                by_status.add_metric([str(status)], count)
            yield by_status
            backlog, oldest = session.execute(
                text(
                    "SELECT count(*) AS n, min(created_at) AS oldest FROM feed_deliveries "
                    "WHERE delivered_at IS NULL AND next_attempt_at IS NOT NULL"
                ).columns(column("n", BigInteger), column("oldest", UTCDateTime()))
            ).one()
            yield _gauge("lnx_webhook_backlog", "Deliveries waiting for a (first or next) attempt.", backlog)
            if isinstance(oldest, datetime):
                yield _gauge(
                    "lnx_webhook_backlog_oldest_seconds",
                    "Age of the oldest delivery still waiting.",
                    (utcnow() - oldest).total_seconds(),
                )
        if "feed_subscriptions" in tables:
            subs = GaugeMetricFamily(
                "lnx_webhook_subscriptions", "Webhook subscriptions by status.", labels=["status"]
            )
            for status, count in session.execute(
                text("SELECT status, count(*) FROM feed_subscriptions GROUP BY status")
            ).all():
                subs.add_metric([str(status)], count)
            yield subs
            failing = session.execute(
                text("SELECT count(*) FROM feed_subscriptions WHERE failing_since IS NOT NULL")
            ).scalar()
            yield _gauge(
                "lnx_webhook_subscriptions_failing",
                "Subscriptions whose endpoint is currently failing.",
                failing,
            )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def client_allowed(host: str | None, networks: Iterable[str]) -> bool:
    """Whether the client address is inside one of the allowed networks (``metrics_allow``)."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for network in networks:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            logger.warning("ignoring an invalid network in metrics_allow", extra={"network": network})
    return False


def render(request: Request) -> Response:
    """The exposition for ``GET /metrics``: 404 when disabled, 403 outside ``metrics_allow``."""
    app = request.app
    settings: Settings = app.state.settings
    if not settings.metrics_enabled:
        raise NotFound("metrics are not exposed on this exchange", code="metrics-disabled")
    host = request.client.host if request.client else None
    if not client_allowed(host, settings.metrics_allow):
        raise Forbidden(
            "metrics may only be read from the networks in metrics_allow", code="metrics-forbidden"
        )
    state = app.state
    metrics_state: _MetricsState | None = getattr(state, "ops_metrics", None)
    if metrics_state is None:
        raise NotFound("metrics are not running", code="metrics-disabled")
    metrics_state.http.refresh()
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(metrics_state.exchange)
    else:
        registry = metrics_state.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@dataclass
class _MetricsState:
    registry: CollectorRegistry
    http: HttpMetrics
    exchange: ExchangeCollector


def _build(app: FastAPI) -> _MetricsState:
    # Per-app registry: tests build many apps in one process and the default global registry
    # would refuse the second set of metric names. In multi-process mode the traffic metrics are
    # kept out of any registry; their values live in the shared files and are summed at scrape.
    shared = multiprocess_dir() is not None
    registry = CollectorRegistry()
    http = HttpMetrics(None if shared else registry, app.state)
    if not shared:
        ProcessCollector(registry=registry)
    exchange = ExchangeCollector(app.state.sessionmaker)
    registry.register(exchange)
    return _MetricsState(registry, http, exchange)


@asynccontextmanager
async def run(app: FastAPI) -> AsyncIterator[None]:
    """The operations lifecycle: the serving lock of a SQLite database, then the metrics.

    The lock (``backup.serving_lock``) lets ``lnx db restore`` see that this database is live.
    """
    settings: Settings = app.state.settings
    with backup.serving_lock(settings):
        async with _metrics(app, settings):
            yield


@asynccontextmanager
async def _metrics(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """Traffic counters for the middleware and the state collector for scrapes."""
    if not settings.metrics_enabled:
        yield
        return
    metrics_state = _build(app)
    app.state.ops_metrics = metrics_state
    app.state.http_metrics = metrics_state.http
    try:
        yield
    finally:
        app.state.http_metrics = None
        if multiprocess_dir():
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())
