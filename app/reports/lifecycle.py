"""Runs the reminder check in the background while the app runs (every worker; see reminders.py).

Every worker process runs the loop: the ledger's primary key makes each reminder go out once
however many check at the same moment, and no worker has to be elected. The first check comes
one interval after start, so a restart loop cannot turn into a check loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import anyio
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from app.db import session_scope, utcnow
from app.reports import reminders

__all__ = ["DEFAULT_INTERVAL_S", "run", "run_once"]

DEFAULT_INTERVAL_S = 60.0
logger = logging.getLogger("lnx.reports")


def run_once(factory: sessionmaker[Session], now: datetime) -> list[reminders.Reminder]:
    """One check: find what is due in a read transaction, claim and send it in a write transaction.

    Reading first keeps the common case (nothing due) from taking SQLite's write lock every minute.
    """
    for session in session_scope(factory, read_only=True):
        pending = reminders.pending_reminders(session, now)
    if not pending:
        return []
    sent: list[reminders.Reminder] = []
    for session in session_scope(factory):
        sent = reminders.send_reminders(session, pending, now)
    return sent


async def _loop(app: FastAPI, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            sent = await anyio.to_thread.run_sync(run_once, app.state.sessionmaker, utcnow())
            if sent:
                logger.info("sent %d reminder(s)", len(sent))
        except Exception:  # noqa: BLE001 - a failed check is retried at the next interval
            logger.exception("reminder check failed")


@asynccontextmanager
async def run(app: FastAPI) -> AsyncIterator[None]:
    interval_s = app.state.settings.reminder_interval_s
    task = asyncio.create_task(_loop(app, interval_s), name="lnx-reminders")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
