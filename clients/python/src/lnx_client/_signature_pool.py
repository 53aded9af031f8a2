"""The audit's signature checks: strict parsing here, signature verification on a process pool.

Every document goes through exactly the checks of :func:`lnx_client.verify.verify_document`, in
the same order and with the same failures, split in two:

- **in this process**, as the document arrives from the list endpoint: the strict JWS reading
  (:func:`~lnx_client.verify.parse_document`, core ``jws.parse_compact``: canonical base64url,
  header rules, strict JSON without duplicate members), and the comparisons that need the served
  document: the payload's ``issuer``, then the served payload and ``id``/``type``/``regime``
  against the signed ones. The served payload never has to be serialised for another process,
  and a protected header shared by a key's documents is read once
  (:class:`~lnx_client.core.jws.HeaderCache`, same result);
- **in worker processes**, over chunks of :data:`CHUNK` documents: the key (``kid`` in the
  issuer's JWKS as it stood, usable, valid at the entry's integrated time, ``alg`` pinned by it)
  and the Ed25519/ES256 verification itself (:func:`~lnx_client.verify.check_signature`). A task
  carries only bytes and short strings: the signing input and the signature, ``kid``, ``alg``.

The comparisons' failures count only for a document whose signature then verifies, as when one
process does everything (a bad signature is reported alone). Small audits run inline.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .core.jws import SIGNATURE_BYTES, HeaderCache
from .errors import VerificationError
from .verify import KeySet, check_signature, issuer_problem, parse_document, parse_time

__all__ = [
    "CHUNK",
    "POOL_THRESHOLD",
    "Failure",
    "SignatureChecks",
    "Task",
    "check_signatures",
    "pool_context",
]

CHUNK = 1000  # documents per worker task: tens of milliseconds of work, so per-task costs vanish
POOL_THRESHOLD = 512  # below this many signatures, a process pool costs more than it saves
_AHEAD = 2  # chunks per worker handed over and not yet collected

#: The served fields compared with the signed payload's.
_METADATA = ("id", "type", "regime")

Task = tuple[int, Any, str, str, Any, bytes, bytes, str]
"""``(log index, document id, issuer, kid, alg, signing input, signature, integrated time)``."""
Failure = tuple[str, str, int, str | None]
"""``(code, reason, log index, document id)``."""


def check_signatures(chunk: list[Task], jwks: dict[str, dict[str, Any]]) -> list[Failure]:
    """Check each task's key at its integrated time and verify its signature (in a worker).

    :func:`~lnx_client.verify.check_signature` decides; once it has accepted an Ed25519 key for
    an issuer, ``kid`` and ``alg`` at an integrated time (documents integrated together share
    it), the next such documents only need the verification itself and go straight to
    ``cryptography`` (anything else, a signature that does not verify included, goes through
    ``check_signature``, which names the failure).
    """
    failures: list[Failure] = []
    keys = {issuer: KeySet(snapshot) for issuer, snapshot in jwks.items()}
    times: dict[str, datetime] = {}
    # (issuer, kid, alg, integrated time) -> the Ed25519 key check_signature accepted for them
    accepted: dict[tuple[str, str, Any, str], Ed25519PublicKey] = {}
    for index, doc_id, issuer, kid, alg, signing_input, signature, at in chunk:
        public = accepted.get((issuer, kid, alg, at))
        if public is not None and len(signature) == SIGNATURE_BYTES:
            try:
                public.verify(signature, signing_input)
                continue
            except InvalidSignature:
                pass
        when = times.get(at)
        if when is None:
            when = times[at] = parse_time(at) or datetime.now(UTC)
        try:
            key = check_signature(kid, alg, signing_input, signature, keys[issuer], when)
        except VerificationError as exc:
            failures.append((exc.code, exc.message, index, doc_id))
            continue
        if key.public is not None and isinstance(key.public.public_key, Ed25519PublicKey):
            accepted[(issuer, kid, alg, at)] = key.public.public_key
    return failures


def pool_context() -> multiprocessing.context.BaseContext:
    """``fork`` when this process has no other thread (the CLI): workers start at once, with
    everything imported. Otherwise (an application embedding the client, a test running a server
    thread) ``forkserver``/``spawn``, which is safe with threads but re-imports ``__main__``."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


@dataclass
class _Chunk:
    tasks: list[Task] = field(default_factory=list)
    jwks: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: per log index, for the few documents with a problem found here: the issuer mismatch
    #: (which makes the signature check fail), or the payload/metadata mismatches (reported
    #: once the signature verifies).
    deferred: dict[int, tuple[Failure | None, list[Failure]]] = field(default_factory=dict)
    future: Future[list[Failure]] | None = None
    size: int = 0
    failed: list[Failure] | None = None  # the workers' verdict, once collected


class SignatureChecks:
    """The signature checks of an audit's documents: :meth:`add` each, then :meth:`results`."""

    def __init__(
        self,
        workers: int,
        threshold: int = POOL_THRESHOLD,
        chunk: int = CHUNK,
        pool: ProcessPoolExecutor | None = None,
    ) -> None:
        self.workers = workers
        self.threshold = threshold
        self.chunk_size = chunk
        self.total = 0
        self._headers = HeaderCache()
        self._chunk = _Chunk()
        self._chunks: list[_Chunk] = []
        self._refused: list[Failure] = []  # JWSs refused by the strict parse
        self._pool = pool
        self._own_pool = False
        self._collected = 0  # chunks before this one are done (their verdicts collected)

    def start(self) -> None:
        """Start the worker processes now (the audit does once it knows the log is large): forked
        while this process is still small, they share none of the documents read afterwards."""
        if self._pool is None and self.workers > 1:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=pool_context())
            self._own_pool = True
            self._pool.submit(int).result()  # the workers start with the first task

    def add(self, index: int, doc: Mapping[str, Any], at: str, jwks: dict[str, Any]) -> None:
        """Check the served document ``doc`` (list-endpoint JSON with its ``jws``), logged at
        ``at``, against ``jwks``, its issuer's JWKS snapshot."""
        self.total += 1
        doc_id = doc.get("id")
        served_issuer = doc.get("issuer")
        try:
            parsed = parse_document(doc["jws"], self._headers)
        except VerificationError as exc:
            self._refused.append((exc.code, exc.message, index, doc_id))
            return
        chunk = self._chunk
        issuer = str(served_issuer)
        chunk.jwks[issuer] = jwks
        header = parsed.header
        # (the strict parse made ``kid`` a string and ``alg`` one of the allowed ones)
        chunk.tasks.append(
            (index, doc_id, issuer, header["kid"], header["alg"], parsed.signing_input, parsed.signature, at)
        )
        signed = parsed.payload
        if served_issuer is not None and signed.get("issuer") != served_issuer:
            problem = issuer_problem(signed, served_issuer)
            assert problem is not None
            chunk.deferred[index] = ((problem.code, problem.message, index, doc_id), [])
        elif (
            doc.get("payload") != signed
            or ("id" in doc and doc["id"] != signed.get("id"))
            or ("type" in doc and doc["type"] != signed.get("type"))
            or ("regime" in doc and doc["regime"] != signed.get("regime"))
        ):
            chunk.deferred[index] = (None, _mismatches(index, doc, signed))
        if len(chunk.tasks) >= self.chunk_size:
            self._flush()

    def _flush(self) -> None:
        chunk, self._chunk = self._chunk, _Chunk()
        if not chunk.tasks:
            return
        chunk.size = len(chunk.tasks)
        self._chunks.append(chunk)
        if self._pool is None and self.workers > 1 and self.total >= self.threshold:
            self.start()
            assert self._pool is not None
            for waiting in self._chunks:  # those kept while the audit was small
                waiting.future = self._pool.submit(check_signatures, waiting.tasks, waiting.jwks)
        elif self._pool is not None:
            chunk.future = self._pool.submit(check_signatures, chunk.tasks, chunk.jwks)
        if self._pool is not None:
            self._collect(keep=self.workers * _AHEAD)

    def _collect(self, keep: int) -> None:
        """Wait for the oldest chunks until at most ``keep`` are in the workers' hands: this
        process stays just ahead of them, rather than holding every parsed document in memory
        (and the memory it reuses stays warm)."""
        while len(self._chunks) - self._collected > keep:
            chunk = self._chunks[self._collected]
            if chunk.future is not None:
                chunk.failed, chunk.future = chunk.future.result(), None
                chunk.tasks = []
            self._collected += 1

    def results(
        self, progress: Callable[[str, int, int | None], None] | None
    ) -> Iterator[tuple[int, list[Failure]]]:
        """``(signatures verified, failures)`` per chunk, after the strict parse's refusals."""
        self._flush()
        done = len(self._refused)
        try:
            if self._refused:
                yield 0, self._refused
            for chunk in self._chunks:
                if chunk.failed is not None:
                    failed = chunk.failed
                elif chunk.future is not None:
                    failed = chunk.future.result()
                else:
                    failed = check_signatures(chunk.tasks, chunk.jwks)
                chunk.future, chunk.failed = None, None
                verified = chunk.size - len(failed)
                if chunk.deferred:
                    unverified = {failure[2] for failure in failed}
                    for index, (mismatch, mismatches) in chunk.deferred.items():
                        if index in unverified:
                            continue  # a signature that does not hold is reported alone
                        if mismatch is not None:
                            verified -= 1
                            failed.append(mismatch)
                        else:
                            failed.extend(mismatches)
                done += chunk.size
                chunk.tasks, chunk.deferred = [], {}
                if progress:
                    progress("signatures", done, self.total)
                yield verified, failed
        finally:
            if self._pool is not None and self._own_pool:
                self._pool.shutdown(cancel_futures=True)


def _mismatches(index: int, doc: Mapping[str, Any], signed: dict[str, Any]) -> list[Failure]:
    """The served payload, ``id``, ``type`` and ``regime`` must be the signed ones."""
    doc_id = doc.get("id")
    out: list[Failure] = []
    if doc.get("payload") != signed:
        out.append(("payload-mismatch", "the payload served differs from the signed payload", index, doc_id))
    for name in _METADATA:
        if name in doc and doc[name] != signed.get(name):
            out.append(
                (
                    "metadata-mismatch",
                    f"the served {name} {doc[name]!r} is not the signed {signed.get(name)!r}",
                    index,
                    doc_id,
                )
            )
    return out
