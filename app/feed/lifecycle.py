"""Starts the feed with the app: the notifier, the stream hub and (optionally) the webhook worker.

``main.create_app`` enters ``run(app)`` at startup. Afterwards ``app.state.feed`` is the
:class:`~app.feed.streams.FeedRuntime` the routes use, and ``/readyz`` reports on the feed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.feed.delivery import DeliveryWorker
from app.feed.hub import FeedHub
from app.feed.notifier import FeedNotifier
from app.feed.streams import FeedRuntime, StreamSlots

__all__ = ["run", "run_worker"]

logger = logging.getLogger("lnx.feed.worker")


@asynccontextmanager
async def run(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    factory = app.state.sessionmaker
    notifier = FeedNotifier(factory, settings.resolved_database_url)
    await notifier.start()
    hub = FeedHub(factory, notifier)
    await hub.start()
    app.state.feed = FeedRuntime(factory, settings, notifier, hub, StreamSlots(settings.max_streams))
    worker: DeliveryWorker | None = None
    if settings.run_webhook_worker:
        worker = DeliveryWorker(factory, settings, notifier)
        await worker.start()
    app.state.webhook_worker = worker

    def probe() -> dict[str, Any]:
        return {
            "ok": True,
            "head": hub.head,
            "open_streams": app.state.feed.slots.used,
            "hub_waiters": hub.waiting,
            "listening": notifier.listening,
            "webhook_worker": None
            if worker is None
            else {"delivered": worker.delivered, "error": worker.last_error},
        }

    app.state.readiness_probes["feed"] = probe
    try:
        yield
    finally:
        if worker is not None:
            await worker.stop()
        await hub.stop()
        await notifier.stop()
        if app.state.feed.probe is not None:
            app.state.feed.probe.close()


async def run_worker(settings: Settings, *, concurrency: int = 32, grace_s: float = 10.0) -> None:
    """``lnx worker``: the webhook delivery worker alone, until SIGTERM or SIGINT.

    On a signal it stops claiming, lets in-flight attempts finish for ``grace_s``, and exits;
    anything still leased then is attempted again by whichever worker runs next.
    """
    from app.main import check_schema

    engine = make_engine(settings.resolved_database_url, pool_size=4)
    try:
        check_schema(engine)
        factory = make_sessionmaker(engine)
        notifier = FeedNotifier(factory, settings.resolved_database_url)
        await notifier.start()
        worker = DeliveryWorker(factory, settings, notifier, concurrency=concurrency)
        await worker.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        logger.warning("webhook worker running (concurrency %d)", concurrency)
        try:
            await stop.wait()
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            await worker.stop(grace_s)
            await notifier.stop()
        logger.warning("webhook worker stopped after %d deliveries", worker.delivered)
    finally:
        engine.dispose()
