"""The committed feed head for many concurrent requests, at the cost of one query per round.

A poll at an up-to-date cursor must answer "nothing new" only if nothing was committed before the
request arrived, including by another process (no in-process signal can promise that: a writer
outside this process is seen by the notifier only after its NOTIFY or head poll). So the answer
needs a read of the head that *started after the request arrived* — but not one read per
request: :class:`HeadProbe` is a single flight. A request that finds a read already running waits
for the *next* one (which starts as soon as the running one ends), and every request waiting
for a round shares its result. Under load one query answers dozens of polls; a lone client gets
exactly the read it would have made itself. Reads run on the probe's own thread, never the loop's
default executor (the submission path uses that).
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from app.feed import repository

__all__ = ["HeadProbe"]


class HeadProbe:
    """``await probe.read()``: the committed head as of some moment after the call began."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        engine = factory.kw["bind"]
        self._keep = engine.dialect.name == "postgresql"
        self._engine = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if self._keep
            else engine.execution_options(lnx_read_only=True)
        )
        self._connection: Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lnx-feed-head")
        self._running: asyncio.Future[int] | None = None
        self._queued: asyncio.Future[int] | None = None
        self.rounds = 0

    async def read(self) -> int:
        if self._running is None:
            future = self._launch(None)
        else:
            # The running read may have started before this request: wait for the next round.
            if self._queued is None:
                self._queued = asyncio.get_running_loop().create_future()
                self._queued.add_done_callback(_retrieved)
            future = self._queued
        return await asyncio.shield(future)

    def close(self) -> None:
        self._executor.submit(self._disconnect)  # on the probe's thread, after any running read
        self._executor.shutdown(wait=False)

    def _read(self) -> int:
        if not self._keep:
            # SQLite: a bare pooled connection per round, not a session (a quarter of the CPU);
            # never kept open, since an open read transaction would pin an old WAL snapshot.
            with self._engine.connect() as connection:
                return repository.head_seq(connection)
        # PostgreSQL: one connection kept by the probe, in autocommit — one round trip per read
        # instead of a pre-ping, BEGIN, the query and ROLLBACK.
        if self._connection is None:
            self._connection = self._engine.connect()
        try:
            head = repository.head_seq(self._connection)
            self._connection.commit()  # ends SQLAlchemy's autobegun block; nothing on the wire
            return head
        except Exception:
            self._disconnect()  # reconnect on the next round (the database may have restarted)
            raise

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.invalidate()
                connection.close()

    def _launch(self, future: asyncio.Future[int] | None) -> asyncio.Future[int]:
        loop = asyncio.get_running_loop()
        round_ = future if future is not None else loop.create_future()
        if future is None:
            round_.add_done_callback(_retrieved)
        self._running = round_
        self.rounds += 1
        read = loop.run_in_executor(self._executor, self._read)
        read.add_done_callback(lambda done: self._finish(round_, done))
        return round_

    def _finish(self, round_: asyncio.Future[int], done: asyncio.Future[int]) -> None:
        self._running = None
        if not round_.done():
            if done.cancelled():
                round_.cancel()
            elif (exc := done.exception()) is not None:
                round_.set_exception(exc)
            else:
                round_.set_result(done.result())
        if self._queued is not None:
            queued, self._queued = self._queued, None
            try:
                self._launch(queued)
            except RuntimeError as exc:  # executor shut down: the server is stopping
                queued.set_exception(exc)


def _retrieved(future: asyncio.Future[int]) -> None:
    # Every waiter may have gone (client disconnected): do not log "exception never retrieved".
    if not future.cancelled():
        future.exception()
