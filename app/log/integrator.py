"""The per-process integrator: a background loop, plus "wait until entry i has a checkpoint".

Integration itself is ``service.integrate`` in a short transaction of its own, run in a worker
thread (the database calls are synchronous). Within one process an ``asyncio.Lock`` lets one
integration run at a time and makes concurrent waiters share it; across processes the
tree-head row lock does the same. The loop picks up whatever is left pending, e.g. leaves a
crashed process committed but never integrated.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import anyio
from lnx_client.core import note
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from app.db import session_scope
from app.log import service

__all__ = ["Integrator"]

logger = logging.getLogger("lnx.log")


class Integrator:
    """Integrates pending leaves now and then, and on demand for waiting submitters."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        signer: note.Signer,
        origin: str,
        *,
        interval_s: float,
        max_leaves: int = service.DEFAULT_INTEGRATE_BATCH,
    ) -> None:
        self._factory = factory
        self._signer = signer
        self._origin = origin
        self._interval_s = interval_s
        self._max_leaves = max_leaves
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.size = 0
        """Tree size this process last saw signed (never larger than the real one)."""
        self.last_error: str | None = None
        self.last_run: float | None = None

    # ------------------------------------------------------------ synchronous steps (worker thread)

    def bootstrap(self) -> None:
        """Check the key against the newest checkpoint; sign the first checkpoint if there is none."""
        for session in session_scope(self._factory):
            service.check_log_key(session, self._signer.verifier(), self._origin)
            service.ensure_checkpoint(session, self._signer, self._origin)
        self.size = self._read_size()

    def _read_size(self) -> int:
        for session in session_scope(self._factory, read_only=True):
            size = service.tree_size(session)
        return size

    def _read_state(self) -> tuple[int, int]:
        """``(tree size, leaves pending)``: the loop's tick, one read in one short transaction."""
        for session in session_scope(self._factory, read_only=True):
            state = service.integration_state(session)
        return state

    def integrate_once(self) -> int:
        """One integration transaction; returns the tree size after it."""
        for session in session_scope(self._factory):
            record = service.integrate(session, self._signer, self._origin, max_leaves=self._max_leaves)
        return record.size if record is not None else self._read_size()

    def integrate_in(
        self, session: Session, sequenced: tuple[int, Sequence[bytes]] | None = None
    ) -> service.Integration | None:
        """Integrate in the caller's transaction (the submission batch's); what it did, if anything.

        ``sequenced``: the leaves that transaction sequenced (see ``service.integrate_step``).
        The caller calls ``advance`` with the new size once its transaction has committed.
        """
        return service.integrate_step(
            session, self._signer, self._origin, max_leaves=self._max_leaves, sequenced=sequenced
        )

    def advance(self, size: int) -> None:
        """Note a tree size whose checkpoint is committed (waiters for entries below it return)."""
        self.size = max(self.size, size)

    def _drain(self) -> None:
        """Integrate until nothing is pending (a backlog takes several batches)."""
        while True:
            before = self.size
            self.size = max(self.size, self.integrate_once())
            if self.size - before < self._max_leaves or self._read_state()[1] == 0:
                return

    # ------------------------------------------------------------ async API

    async def integrate_now(self) -> int:
        """Integrate whatever is pending (one run at a time per process); return the tree size."""
        async with self._lock:
            await anyio.to_thread.run_sync(self._drain)
            return self.size

    async def wait_integrated(self, index: int, timeout: float) -> int:
        """Return the tree size once a signed checkpoint covers ``index``, integrating if needed.

        Raises ``service.NotIntegrated`` after ``timeout`` seconds (e.g. the database is down).
        """
        deadline = time.monotonic() + timeout
        while self.size <= index:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise service.NotIntegrated(f"entry {index} is not covered by a signed checkpoint yet")
            size_before = self.size
            try:
                with anyio.move_on_after(remaining):
                    async with self._lock:
                        if self.size <= index:  # a run that finished while we queued may have covered it
                            await anyio.to_thread.run_sync(self._drain)
            except DBAPIError as exc:  # the database is unreachable or busy: retry until the deadline
                self.last_error = type(exc).__name__
                logger.warning("log integration failed while a submitter waits; retrying", exc_info=exc)
                await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
                continue
            if self.size <= index and self.size == size_before:
                await asyncio.sleep(min(0.005, max(0.0, deadline - time.monotonic())))
        return self.size

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                size, pending = await anyio.to_thread.run_sync(self._read_state)
                self.size = max(self.size, size)
                if pending > 0:
                    await self.integrate_now()
                self.last_error = None
                self.last_run = time.time()
            except Exception as exc:  # noqa: BLE001 - keep integrating after a transient failure
                self.last_error = type(exc).__name__
                logger.exception("log integration failed; retrying")
            try:
                await asyncio.wait_for(self._stop.wait(), self._interval_s)
            except TimeoutError:
                pass

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="lnx-log-integrator")

    async def stop(self) -> None:
        """Stop the loop after its current step (an integration in a thread finishes first)."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
