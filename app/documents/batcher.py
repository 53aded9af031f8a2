"""Group commit of submissions: many verified submissions share one durable transaction.

One durable ORM commit per request caps a server near 650–950 documents/s (LIMITS.md); gathering
the submissions that arrive within a few milliseconds and committing them together lifts that
bound while every client still gets its answer only after its document, log leaf and feed event
are committed and integrated into a signed checkpoint. Each submission runs in its own SAVEPOINT,
so one refused document never takes the others of its batch down with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.db import session_scope, utcnow
from app.documents import service as documents_service
from app.documents.intake import Intake
from app.documents.models import Document
from app.errors import LnxError, ServiceUnavailable

__all__ = ["SubmissionBatcher", "Outcome"]

logger = logging.getLogger("lnx.documents.batcher")


@dataclass(slots=True)
class Outcome:
    document: Document
    created: bool


@dataclass(slots=True)
class _Pending:
    intake: Intake
    future: asyncio.Future[Outcome] = field(repr=False)


class SubmissionBatcher:
    """Collects submissions for up to ``wait_ms`` (or ``max_batch`` of them) and commits them together."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        wait_integrated: Callable[[int], Awaitable[object]],
        *,
        max_batch: int = 256,
        wait_ms: float = 2.0,
    ) -> None:
        self._factory = factory
        self._wait_integrated = wait_integrated
        self._finishing: set[asyncio.Task[None]] = set()
        self._max_batch = max_batch
        self._wait_s = wait_ms / 1000
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._busy = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lnx-submission-batcher")

    async def stop(self, drain_timeout_s: float = 10.0) -> None:
        """Finish what was queued (bounded), then stop; later submissions get 503."""
        self._stopping = True
        if self._task is not None:
            deadline = asyncio.get_running_loop().time() + drain_timeout_s
            while (not self._queue.empty() or self._busy) and not self._task.done():
                if asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.01)
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(
                    ServiceUnavailable("the exchange is shutting down; retry", code="shutting-down")
                )
        if self._finishing:
            await asyncio.wait(self._finishing, timeout=drain_timeout_s)

    async def submit(self, intake: Intake) -> Outcome:
        if self._stopping or self._task is None or self._task.done():
            raise ServiceUnavailable(
                "the exchange is not accepting submissions right now", code="not-running"
            )
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(intake, future))
        return await future

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            self._busy = True
            batch = [first]
            deadline = asyncio.get_running_loop().time() + self._wait_s
            while len(batch) < self._max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                try:
                    batch.append(
                        self._queue.get_nowait()
                        if timeout <= 0
                        else await asyncio.wait_for(self._queue.get(), timeout)
                    )
                except (TimeoutError, asyncio.QueueEmpty):
                    break
            try:
                results = await asyncio.to_thread(self._commit, batch)
            except Exception as exc:  # noqa: BLE001 - the batch failed as a whole; every caller learns it
                logger.exception("submission batch failed")
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(
                            exc
                            if isinstance(exc, LnxError)
                            else ServiceUnavailable("the submission could not be stored; retry")
                        )
                continue
            finally:
                self._busy = False
            # Answer while the next batch is already being committed (pipelining).
            task = asyncio.create_task(self._finish(batch, results))
            self._finishing.add(task)
            task.add_done_callback(self._finishing.discard)

    async def _finish(self, batch: list[_Pending], results: list[Outcome | BaseException]) -> None:
        """Answer a committed batch once a signed checkpoint covers its new entries."""
        indexes = [r.document.log_index for r in results if isinstance(r, Outcome)]
        integration_error: BaseException | None = None
        if indexes:
            try:
                await self._wait_integrated(max(indexes))
            except Exception as exc:  # noqa: BLE001 - durable but not yet logged: the client may retry (200)
                logger.exception("integration after a batch failed")
                integration_error = (
                    exc
                    if isinstance(exc, LnxError)
                    else ServiceUnavailable(
                        "stored, but not yet in a signed checkpoint; resubmit the same JWS for the receipt"
                    )
                )
        for pending, result in zip(batch, results, strict=True):
            if pending.future.done():
                continue
            if isinstance(result, BaseException):
                pending.future.set_exception(result)
            elif integration_error is not None:
                pending.future.set_exception(integration_error)
            else:
                pending.future.set_result(result)

    def _commit(self, batch: list[_Pending]) -> list[Outcome | BaseException]:
        results: list[Outcome | BaseException] = []
        now = utcnow()
        for session in session_scope(self._factory):
            for pending in batch:
                savepoint = session.begin_nested()
                try:
                    accepted = documents_service.accept(session, pending.intake, now)
                    savepoint.commit()
                    results.append(Outcome(accepted.document, accepted.created))
                except LnxError as exc:
                    savepoint.rollback()
                    results.append(exc)
                except IntegrityError:
                    # Another worker stored the same id a moment ago; a retry answers 200 or 409.
                    savepoint.rollback()
                    results.append(
                        ServiceUnavailable(
                            "a concurrent submission of the same id was stored first; retry",
                            code="concurrent-submission",
                            headers={"Retry-After": "1"},
                        )
                    )
        return results

    def __repr__(self) -> str:
        return f"SubmissionBatcher(max_batch={self._max_batch}, wait_ms={self._wait_s * 1000:g})"
