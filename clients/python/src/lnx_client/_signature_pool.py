"""The audit's signature checks, on a process pool over all cores (inline for small audits)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from .errors import VerificationError
from .verify import KeySet, verify_document

__all__ = ["CHUNK", "POOL_THRESHOLD", "Failure", "SignatureChecks", "Task", "check_chunk", "pool_context"]

CHUNK = 256  # documents per task
POOL_THRESHOLD = 512  # below this many signatures, a process pool costs more than it saves

Task = tuple[int, dict[str, Any], str]
"""``(log index, the document as served, the entry's integrated time)``."""
Failure = tuple[str, str, int, str | None]
"""``(code, reason, log index, document id)``."""


def check_chunk(chunk: list[Task], jwks: dict[str, dict[str, Any]]) -> tuple[int, list[Failure]]:
    """Verify documents' signatures at their integrated time; compare served and signed payloads."""
    verified = 0
    failures: list[Failure] = []
    keys = {issuer: KeySet(snapshot) for issuer, snapshot in jwks.items()}
    for index, served, at in chunk:
        doc_id = served.get("id")
        issuer = served.get("issuer")
        try:
            checked = verify_document(served["jws"], keys[issuer], at=at, issuer=issuer)
        except VerificationError as exc:
            failures.append((exc.code, exc.message, index, doc_id))
            continue
        verified += 1
        signed = checked.payload
        if served.get("payload") != signed:
            failures.append(
                ("payload-mismatch", "the payload served differs from the signed payload", index, doc_id)
            )
        for name in ("id", "type", "regime"):
            if name in served and served[name] != signed.get(name):
                failures.append(
                    (
                        "metadata-mismatch",
                        f"the served {name} {served[name]!r} is not the signed {signed.get(name)!r}",
                        index,
                        doc_id,
                    )
                )
    return verified, failures


def pool_context() -> multiprocessing.context.BaseContext:
    """``fork`` when this process has no other thread (the CLI): workers start at once, with
    everything imported. Otherwise (an application embedding the client, a test running a server
    thread) ``forkserver``/``spawn``, which is safe with threads but re-imports ``__main__``."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class SignatureChecks:
    """Runs :func:`check_chunk` inline for small audits and on a process pool for large ones."""

    def __init__(self, workers: int, threshold: int = POOL_THRESHOLD) -> None:
        self.workers = workers
        self.threshold = threshold
        self._buffer: list[tuple[list[Task], dict[str, dict[str, Any]]]] = []
        self._buffered = 0
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[tuple[int, Future[tuple[int, list[Failure]]]]] = []
        self.total = 0

    def add(self, chunk: list[Task], jwks: dict[str, dict[str, Any]]) -> None:
        self.total += len(chunk)
        if self._pool is None:
            self._buffer.append((chunk, jwks))
            self._buffered += len(chunk)
            if self.workers > 1 and self._buffered >= self.threshold:
                self._pool = ProcessPoolExecutor(self.workers, mp_context=pool_context())
                for buffered in self._buffer:
                    self._futures.append((len(buffered[0]), self._pool.submit(check_chunk, *buffered)))
                self._buffer = []
            return
        self._futures.append((len(chunk), self._pool.submit(check_chunk, chunk, jwks)))

    def results(
        self, progress: Callable[[str, int, int | None], None] | None
    ) -> Iterator[tuple[int, list[Failure]]]:
        done = 0
        try:
            if self._pool is None:
                for chunk, jwks in self._buffer:
                    result = check_chunk(chunk, jwks)
                    done += len(chunk)
                    if progress:
                        progress("signatures", done, self.total)
                    yield result
                return
            for count, future in self._futures:
                result = future.result()
                done += count
                if progress:
                    progress("signatures", done, self.total)
                yield result
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
