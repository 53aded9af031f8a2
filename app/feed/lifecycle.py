"""Starts the feed with the app: the notifier, the stream hub and (optionally) the webhook worker.

``main.create_app`` enters ``run(app)`` at startup. Afterwards ``app.state.feed`` is the
:class:`~app.feed.streams.FeedRuntime` the routes use, and ``/readyz`` reports on the feed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from app.feed.delivery import DeliveryWorker
from app.feed.hub import FeedHub
from app.feed.notifier import FeedNotifier
from app.feed.streams import FeedRuntime, StreamSlots

__all__ = ["run"]


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
