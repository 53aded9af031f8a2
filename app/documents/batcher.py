"""Group commit of submissions: many verified submissions share one durable transaction.

One durable ORM commit per request caps a server near 650–950 documents/s (LIMITS.md); gathering
the submissions that arrive within a few milliseconds and committing them together lifts that
bound while every client still gets its answer only after its document, log leaf and feed event
are committed and integrated into a signed checkpoint.

The batch's transaction also integrates the log (``Integrator.integrate_in``: new tree nodes and
a signed checkpoint), so a batch costs one durable commit, not two. The integration step keeps
the nodes it had in hand (``log.service.Integration``), which are all that the inclusion proofs
of the batch's new entries need: their receipts are made from memory, without a second
transaction, as soon as the batch has committed.

A batch is one call of ``service.accept_batch``: refused submissions write nothing, so they never
take the others down with them. Should the batch's statements fail as a whole (another worker
stored one of its ids a moment earlier), the batch is replayed one submission at a time, each in
its own SAVEPOINT, so that only the loser of the race is told to retry. What the batch did not
integrate itself (a resubmitted document, or a batch replayed one by one) gets its receipt from
the database: one checkpoint read and one node fetch for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.auth.service import Principal
from app.db import inserts_deferred, session_scope, utcnow
from app.documents import intake as intake_module
from app.documents import service as documents_service
from app.documents import views
from app.documents.intake import Intake
from app.errors import LnxError, ServiceUnavailable
from app.log import service as log_service
from app.participants.keycache import KeyCache, SigningKey

__all__ = ["SubmissionBatcher", "SignedSubmission", "Outcome"]

logger = logging.getLogger("lnx.documents.batcher")


@dataclass(slots=True)
class Outcome:
    document: documents_service.AnyDocument
    created: bool
    receipt: dict[str, object] = field(default_factory=dict)
    """The receipt (contract §3) with its tlog-proof, filled in once the entry is integrated."""


@dataclass(frozen=True, slots=True)
class SignedSubmission:
    """A submission as it came in: the caller and the compact JWS, not yet parsed or verified."""

    principal: Principal
    raw: str
    max_size: int
    client: Hashable | None = None
    """The connection it came over (the peer's address and port): a client that comes back on
    it is expected in the next batch (``SubmissionBatcher``'s adaptive window)."""


@dataclass(slots=True)
class _Pending:
    intake: Intake | None
    future: asyncio.Future[Outcome] = field(repr=False)
    signed: SignedSubmission | None = None


def _concurrent_submission() -> ServiceUnavailable:
    """Another worker stored the same id a moment ago; a retry answers 200 or 409."""
    return ServiceUnavailable(
        "a concurrent submission of the same id was stored first; retry",
        code="concurrent-submission",
        headers={"Retry-After": "1"},
    )


def _refuse(pending: _Pending, exc: BaseException) -> None:
    if not pending.future.done():  # the client may have gone (a cancelled future)
        pending.future.set_exception(exc)


def _close_window(window: asyncio.Future[None]) -> None:
    if not window.done():
        window.set_result(None)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the batcher is stopping: nobody waits for this batch any more
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class _CommitThread:
    """The thread that runs a batcher's commits, one at a time, fed through a ``SimpleQueue``.

    ``asyncio.to_thread`` hands each call to the default ``ThreadPoolExecutor``, whose
    ``submit`` and worker loop take Python-level locks and an idle-worker semaphore on every
    call; a ``SimpleQueue`` put is one C call. Measured per hand-over and back (uvloop, a
    trivial call): 78 µs of process CPU and 88 µs of wall time through ``to_thread``, 52 and
    68 µs here. The result comes back as ``to_thread``'s does, through ``call_soon_threadsafe``.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[
            tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Callable[[], Any]] | None
        ]
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def run(self, call: Callable[[], Any]) -> asyncio.Future[Any]:
        """Run ``call`` in the thread; a future of its result (or exception) in the caller's loop."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put((loop, future, call))
        return future

    def stop(self) -> None:
        """Finish what was handed over, then end the thread (without waiting for it)."""
        self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, call = job
            result, error = None, None
            try:
                result = call()
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to tell
                loop.call_soon_threadsafe(_settle, future, result, error)


class LogWriter(Protocol):
    """What the batcher needs of the log (``app.log.integrator.Integrator``)."""

    def integrate_in(
        self, session: Session, sequenced: tuple[int, Sequence[bytes]] | None = None
    ) -> log_service.Integration | None: ...

    def advance(self, size: int) -> None: ...

    async def wait_integrated(self, index: int, timeout: float) -> int: ...


class SubmissionBatcher:
    """Collects submissions for up to ``wait_ms`` (or ``max_batch`` of them) and commits them together.

    ``adaptive``: the window also closes as soon as the batch holds as many submissions as are
    expected (and nothing more is queued). Under a steady load that is how many submitters are
    about; once they are all in, the rest of the window only adds latency, and with it fewer
    documents per second from the same clients. With ``bench/submit.py`` (PostgreSQL), in
    interleaved runs: one worker at 2 clients 313-316 -> 458-467 accepted/s (p50 6.2 -> 4.1 ms);
    two workers at 32 clients 2,021-2,127 -> 2,264-2,717 (p50 14.4-15.4 -> 10.8-13.2 ms), at 64
    clients 2,616-2,644 -> 2,903-2,949. A submission that arrives alone after a lone one commits
    at once. Off, every batch waits the whole window (the tests that need submissions sent apart
    to share a batch turn it off).

    Expected is the larger of the last batch's size and the number of connections seen in the
    last two batches (``_expected``). The last batch's size alone can lock the clients into two
    halves that take turns: while one half's batch commits, the other half arrives, fills a
    batch of the last size and closes it, and so on, each half paying a batch's fixed cost
    (round trips, the counters' lock, a checkpoint) for half the documents, and the worker never
    taking everyone in at once again. Counting the connections of both halves, the next batch
    waits (within the window) for the half whose answers are on their way, and the halves merge.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        log: LogWriter,
        *,
        keys: KeyCache | None = None,
        max_batch: int = 256,
        wait_ms: float = 2.0,
        adaptive: bool = True,
        integration_timeout_s: float = 10.0,
    ) -> None:
        self._factory = factory
        self._log = log
        self._keys = keys or KeyCache(factory, ttl_s=0)
        self._wait_s_max = integration_timeout_s
        self._finishing: set[asyncio.Task[None]] = set()
        self._max_batch = max_batch
        self._wait_s = wait_ms / 1000
        self._adaptive = adaptive
        # Nothing seen yet: the first batch waits its whole window. Never above max_batch.
        self._expected = max_batch
        self._previous_clients: frozenset[Hashable] = frozenset()
        self._window: asyncio.Future[None] | None = None
        """While a batch gathers: the future its window waits on (resolved by its timer or early)."""
        self._gathered = 0
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._committer: _CommitThread | None = None
        self._stopping = False
        self._busy = False

    async def start(self) -> None:
        self._committer = _CommitThread("lnx-batch-commit")
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
            await asyncio.wait({self._task}, timeout=drain_timeout_s)
            self._task = None
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(
                    ServiceUnavailable("the exchange is shutting down; retry", code="shutting-down")
                )
        if self._finishing:
            await asyncio.wait(self._finishing, timeout=drain_timeout_s)
        if self._committer is not None:
            self._committer.stop()
            self._committer = None

    async def submit(self, intake: Intake) -> Outcome:
        """Store a submission already parsed and verified (``intake.take_in``)."""
        return await self._enqueue(intake, None)

    async def submit_signed(self, signed: SignedSubmission) -> Outcome:
        """Parse, validate, verify and store a submission; its refusal is raised as its problem."""
        return await self._enqueue(None, signed)

    async def _enqueue(self, intake: Intake | None, signed: SignedSubmission | None) -> Outcome:
        if self._stopping or self._task is None or self._task.done():
            raise ServiceUnavailable(
                "the exchange is not accepting submissions right now", code="not-running"
            )
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(intake, future, signed))
        window = self._window
        if window is not None and self._adaptive and self._gathered + self._queue.qsize() >= self._expected:
            _close_window(window)
        return await future

    async def _take_in(self, batch: list[_Pending]) -> list[_Pending]:
        """Intake of the batch's signed submissions, stage by stage; those refused are answered here.

        Every submission is parsed and validated, then every signature is checked, back to back on
        the event loop (no I/O but a thread read for keys the cache lacks). Run per request as the
        requests arrived, each of these steps found the CPU's caches cold, filled with the HTTP
        handling, the database and the other worker in between: pydantic's validation of a
        payload measured 18 µs warm and 146 µs with 16 MiB touched in between. In a row, all
        but the first of a batch find the validators, shapely and the verifier warm.

        The price: the loop answers nothing else while a batch is taken in, about 0.3 ms per
        submission (a batch of 64 under saturation: some 20 ms; the 256 of ``max_batch``: 80 ms).
        Under that load the same work ran interleaved with the reads before, and delayed them
        as much in total.
        """
        unverified: list[tuple[_Pending, intake_module.Unverified]] = []
        for pending in batch:
            if pending.signed is None:
                continue
            signed = pending.signed
            try:
                unverified.append(
                    (pending, intake_module.read(signed.principal, signed.raw, max_size=signed.max_size))
                )
            except Exception as exc:  # noqa: BLE001 - this submission's answer (a problem, or a 500)
                _refuse(pending, exc)
        keys: dict[str, SigningKey | None] = {}
        missing = set()
        for _, item in unverified:
            if item.kid not in keys:
                keys[item.kid] = self._keys.cached(item.kid)
                if keys[item.kid] is None:
                    missing.add(item.kid)
        if missing:
            keys.update(await asyncio.to_thread(lambda: {kid: self._keys.load(kid) for kid in missing}))
        now = utcnow()
        for pending, item in unverified:
            try:
                pending.intake = intake_module.verify(item, keys[item.kid], now)
            except Exception as exc:  # noqa: BLE001 - as above
                _refuse(pending, exc)
        return [p for p in batch if p.intake is not None and not p.future.done()]

    async def _run(self) -> None:
        committer = self._committer
        assert committer is not None, "started by start()"
        while True:
            first = await self._queue.get()
            self._busy = True
            batch = [first]
            await self._gather(batch)
            self._expected = self._expect_after(batch)
            try:
                batch = await self._take_in(batch)
                if not batch:
                    continue
                results = await committer.run(functools.partial(self._commit, batch))
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

    def _expect_after(self, batch: list[_Pending]) -> int:
        """How many submissions the next batch waits for: this batch's size, or more if clients
        of the batch before are not in this one (see the class docstring). Submissions without a
        connection (``submit``: the console, the demo) count in the size only."""
        clients = frozenset(
            p.signed.client for p in batch if p.signed is not None and p.signed.client is not None
        )
        returning = len(clients | self._previous_clients)
        self._previous_clients = clients
        return min(self._max_batch, max(len(batch), returning))

    async def _gather(self, batch: list[_Pending]) -> None:
        """Add to ``batch`` what arrives within the window (or until it is full, or has company enough).

        The window is one timer, which ``_enqueue`` may fire early (``adaptive``): no timer per
        arrival, and no ``asyncio.wait_for``, which on Python 3.11 can swallow a cancellation
        that races its result (``stop()`` would then wait on a dead queue).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        while len(batch) < self._max_batch:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            if self._adaptive and len(batch) >= self._expected:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._gathered = len(batch)
            self._window = loop.create_future()
            timer = loop.call_later(remaining, _close_window, self._window)
            try:
                await self._window
            finally:
                timer.cancel()
                self._window = None

    async def _finish(self, batch: list[_Pending], results: list[Outcome | BaseException]) -> None:
        """Answer a committed batch; entries it did not integrate itself wait for a checkpoint first."""
        waiting = [r for r in results if isinstance(r, Outcome) and not r.receipt]
        failure: BaseException | None = None
        if waiting:
            try:
                await self._log.wait_integrated(max(o.document.log_index for o in waiting), self._wait_s_max)
                await asyncio.to_thread(self._make_receipts, waiting)
            except Exception as exc:  # noqa: BLE001 - durable but not yet logged: the client may retry (200)
                logger.exception("integration after a batch failed")
                failure = (
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
            elif failure is not None and not result.receipt:
                pending.future.set_exception(failure)
            else:
                pending.future.set_result(result)

    def _make_receipts(self, outcomes: list[Outcome]) -> None:
        for session in session_scope(self._factory, read_only=True):
            proofs = log_service.receipt_proofs(session, [o.document.log_index for o in outcomes])
        for outcome in outcomes:
            outcome.receipt = views.receipt(outcome.document, proofs[outcome.document.log_index])

    def _commit(self, batch: list[_Pending]) -> list[Outcome | BaseException]:
        now = utcnow()
        intakes = [pending.intake for pending in batch if pending.intake is not None]
        step: log_service.Integration | None = None
        try:
            for session in session_scope(self._factory):
                with inserts_deferred(session):  # every row of the batch in one statement
                    accepted = documents_service.accept_batch(session, intakes, now)
                    new = [r.document for r in accepted if not isinstance(r, LnxError) and r.created]
                    if new:
                        sequenced = (new[0].log_index, [bytes.fromhex(d.leaf_hash) for d in new])
                        step = self._log.integrate_in(session, sequenced)
        except IntegrityError:
            if len(batch) == 1:
                return [_concurrent_submission()]
            logger.info("a submission batch raced another worker; replaying it one by one")
            return self._commit_one_by_one(intakes, now)
        if step is not None:
            self._log.advance(step.record.size)
        outcomes: list[Outcome | BaseException] = [
            r if isinstance(r, LnxError) else Outcome(r.document, r.created) for r in accepted
        ]
        if step is not None:
            own = [
                o
                for o in outcomes
                if isinstance(o, Outcome) and o.created and step.covers(o.document.log_index)
            ]
            proofs = step.proofs(o.document.log_index for o in own)
            for outcome in own:
                outcome.receipt = views.receipt(outcome.document, proofs[outcome.document.log_index])
        return outcomes

    def _commit_one_by_one(self, intakes: list[Intake], now: datetime) -> list[Outcome | BaseException]:
        results: list[Outcome | BaseException] = []
        for session in session_scope(self._factory):
            for intake in intakes:
                savepoint = session.begin_nested()
                try:
                    accepted = documents_service.accept(session, intake, now)
                    savepoint.commit()
                    results.append(Outcome(accepted.document, accepted.created))
                except LnxError as exc:
                    savepoint.rollback()
                    results.append(exc)
                except IntegrityError:
                    savepoint.rollback()
                    results.append(_concurrent_submission())
        return results

    def __repr__(self) -> str:
        return (
            f"SubmissionBatcher(max_batch={self._max_batch}, wait_ms={self._wait_s * 1000:g}, "
            f"adaptive={self._adaptive})"
        )
