"""Starts and stops the submission batcher (and its key cache) with the application, after the log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.documents.batcher import SubmissionBatcher
from app.log import lifecycle as log_lifecycle
from app.participants.keycache import KeyCache

__all__ = ["run"]


@asynccontextmanager
async def run(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings

    app.state.key_cache = KeyCache(app.state.sessionmaker, ttl_s=settings.key_cache_ttl_s)
    batcher = SubmissionBatcher(
        app.state.sessionmaker,
        app.state.log_integrator,
        keys=app.state.key_cache,
        max_batch=settings.submit_batch_max,
        wait_ms=settings.submit_batch_wait_ms,
        adaptive=settings.submit_batch_adaptive,
        integration_timeout_s=log_lifecycle.DEFAULT_WAIT_S,
    )
    app.state.submission_batcher = batcher
    await batcher.start()
    try:
        yield
    finally:
        await batcher.stop()
