"""A full audit of an exchange's log and the documents behind it (what ``lnx audit`` runs).

1. The checkpoint is verified with the log key (given, or trusted on first use and kept in the
   state file, with a loud warning), and shown consistent with the last audited one
   (``/v1/log/proof/consistency``): a log that forks or shrinks is caught here.
2. Every level-0 tile and entry bundle (C2SP tlog-tiles) is fetched; each entry must hash to its
   tile's leaf hash, parse as ``lnx-entry/v1``, and the root recomputed from the entries must be
   the checkpoint's. Higher tiles must agree with the recomputed tree.
3. Every document the caller may read (paginated) must sit at its ``log_index`` with the same leaf
   hash and integrated time; a full document's JWS must hash to the digest in its leaf, its
   served payload must be the signed one, and its signature must verify with the issuer's key
   that was valid at the leaf's integrated time (JWKS fetched once per issuer; the checks run
   on all cores). With ``complete=True`` (an auditor sees every document, contract §1) every
   entry must belong to a document.

Every problem becomes an :class:`AuditFailure` naming the entry (index, document id) and reason.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import _endpoints as api
from ._signature_pool import POOL_THRESHOLD, SignatureChecks
from ._tree import root_and_tile_levels
from .client import Client
from .core import merkle, tiles
from .core.entry import format_integrated_time, parse_entry
from .cursor import read_json, write_json
from .errors import LnxApiError, LnxClientError, VerificationError
from .verify import open_log_checkpoint, parse_time, verify_consistency

__all__ = [
    "SPLIT_VIEW_CODES",
    "AuditFailure",
    "AuditReport",
    "Progress",
    "default_state_path",
    "run_audit",
]

Progress = Callable[[str, int, int | None], None]
"""``progress(stage, done, total)``; stages: ``entries``, ``documents``, ``signatures``."""

#: Failures that mean the log showed two incompatible histories (or rewrote one).
SPLIT_VIEW_CODES = frozenset({"split-view", "inconsistent", "log-shrank", "log-key-changed"})
PAGE_SIZE = 1000
FETCH_THREADS = 4


@dataclass(frozen=True, slots=True)
class AuditFailure:
    code: str
    reason: str
    index: int | None = None
    document_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        where = []
        if self.index is not None:
            where.append(f"entry {self.index}")
        if self.document_id is not None:
            where.append(self.document_id)
        return f"{', '.join(where) or 'log'}: {self.reason} [{self.code}]"


@dataclass
class AuditReport:
    url: str
    origin: str | None = None
    log_key: str | None = None
    trust_on_first_use: bool = False
    tree_size: int | None = None
    root_hash: str | None = None
    previous_size: int | None = None
    entries_checked: int = 0
    documents_full: int = 0
    documents_metadata: int = 0
    documents_after_checkpoint: int = 0
    signatures_verified: int = 0
    workers: int = 1
    failures: list[AuditFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def split_view(self) -> bool:
        return any(f.code in SPLIT_VIEW_CODES for f in self.failures)

    def fail(self, code: str, reason: str, index: int | None = None, document_id: str | None = None) -> None:
        self.failures.append(AuditFailure(code, reason, index, document_id))

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["ok"] = self.ok
        out["split_view"] = self.split_view
        return out


@dataclass(frozen=True, slots=True)
class _Leaves:
    """What the audit learnt from the tiles: per index, the leaf hash and the entry's digest and time."""

    hashes: list[bytes]
    digests: list[bytes | None]
    times: list[str | None]


# ---------------------------------------------------------------- the audit


@dataclass
class _Auditor:
    client: Client
    report: AuditReport
    state: dict[str, Any]
    progress: Progress | None
    workers: int
    complete: bool

    def trusted_key(self, log_key: str | None) -> str | None:
        stored = self.state.get("log_key")
        if log_key:
            if stored and stored != log_key.strip():
                self.report.warnings.append("the --log-key given differs from the key in the state file")
            return log_key.strip()
        served = self.client.log_key()
        if stored:
            if served != stored:
                self.report.fail(
                    "log-key-changed",
                    f"the exchange now serves the log key {served!r}, not {stored!r} trusted before",
                )
            return str(stored)
        self.report.trust_on_first_use = True
        self.report.warnings.append(
            "TRUST ON FIRST USE: the log key was fetched from the exchange itself; compare it with "
            f"the published one out of band: {served}"
        )
        return served

    def checkpoint(self, key: str) -> tuple[str, Any] | None:
        note = self.client.log_checkpoint()
        try:
            checkpoint = open_log_checkpoint(note, key)
        except VerificationError as exc:
            self.report.fail(exc.code, exc.message)
            return None
        report = self.report
        report.origin, report.tree_size = checkpoint.origin, checkpoint.size
        report.root_hash = base64.b64encode(checkpoint.root_hash).decode()
        if self.state.get("origin") and self.state["origin"] != checkpoint.origin:
            report.fail(
                "origin-changed",
                f"the log's origin is now {checkpoint.origin!r}, not {self.state['origin']!r}",
            )
        return note, checkpoint

    def consistency(self, key: str, note: str, checkpoint: Any) -> None:
        old_size, old_note = self.state.get("size"), self.state.get("checkpoint")
        if old_size is None or not old_note:
            return
        self.report.previous_size = old_size
        if old_size > checkpoint.size:
            self.report.fail(
                "log-shrank",
                f"the log now has {checkpoint.size} entries, fewer than the {old_size} audited before",
            )
            return
        try:
            proof = (
                self.client.consistency_proof(old_size, checkpoint.size) if old_size < checkpoint.size else []
            )
            verify_consistency(old_note, note, proof, key)
        except VerificationError as exc:
            code = "split-view" if old_size == checkpoint.size else exc.code
            self.report.fail(
                code, f"checkpoint {checkpoint.size} is not consistent with the audited {old_size}: {exc}"
            )
        except LnxApiError as exc:
            self.report.fail("inconsistent", f"the exchange did not prove consistency with {old_size}: {exc}")

    def leaves(self, size: int) -> _Leaves | None:
        """Fetch every level-0 tile and entry bundle; check entries against their leaf hashes."""
        report = self.report
        leaf_hashes: list[bytes] = [b""] * size
        digests: list[bytes | None] = [None] * size
        times: list[str | None] = [None] * size
        level0 = [t for t in tiles.tiles_for_size(size) if t[0] == 0]

        def fetch(tile: tuple[int, int, int]) -> tuple[int, int, bytes, bytes]:
            _, n, width = tile
            return n, width, self.client.log_tile(0, n, width), self.client.log_entry_bundle(n, width)

        ok = True
        done = 0
        with ThreadPoolExecutor(FETCH_THREADS) as pool:
            for n, width, tile_bytes, bundle in pool.map(fetch, level0):
                start = n * tiles.TILE_WIDTH
                try:
                    tile_hashes = tiles.split_tile(tile_bytes, width)
                    entries = tiles.decode_entry_bundle(bundle, width)
                except ValueError as exc:
                    report.fail(
                        "bad-tile",
                        f"tile {n} (entries {start}-{start + width - 1}) is malformed: {exc}",
                        start,
                    )
                    ok = False
                    continue
                for offset, (tile_hash, data) in enumerate(zip(tile_hashes, entries, strict=True)):
                    index = start + offset
                    computed = merkle.leaf_hash(data)
                    leaf_hashes[index] = computed
                    if computed != tile_hash:
                        report.fail(
                            "leaf-hash-mismatch",
                            "the entry bundle's data does not hash to the tile's leaf hash",
                            index,
                        )
                    try:
                        parsed = parse_entry(data)
                    except ValueError as exc:
                        report.fail("bad-entry", str(exc), index)
                        continue
                    digests[index] = bytes.fromhex(parsed.jws_sha256_hex)
                    times[index] = format_integrated_time(parsed.integrated_time)
                done += width
                report.entries_checked = done
                if self.progress:
                    self.progress("entries", done, size)
        return _Leaves(leaf_hashes, digests, times) if ok else None

    def tree(self, checkpoint: Any, leaves: _Leaves) -> None:
        root, levels = root_and_tile_levels(leaves.hashes)
        if root != checkpoint.root_hash:
            self.report.fail(
                "root-mismatch", f"the entries do not hash to the root of checkpoint {checkpoint.size}"
            )
            return
        for level, n, width in tiles.tiles_for_size(checkpoint.size):
            if level == 0:
                continue
            expected = b"".join(
                levels[level * tiles.TILE_HEIGHT][n * tiles.TILE_WIDTH : n * tiles.TILE_WIDTH + width]
            )
            if self.client.log_tile(level, n, width) != expected:
                self.report.fail(
                    "tile-mismatch", f"{tiles.tile_path(level, n, width)} disagrees with the recomputed tree"
                )

    def documents(self, size: int, leaves: _Leaves | None, checks: SignatureChecks) -> None:
        report = self.report
        owners: dict[int, str] = {}
        jwks: dict[str, dict[str, Any] | None] = {}
        token: str | None = None
        seen = 0
        while True:
            # Raw JSON rather than models: 100,000 documents are parsed once, by the JSON decoder.
            call = api.list_documents(page_size=PAGE_SIZE, page_token=token)
            page = self.client.request(dataclasses.replace(call, parse=lambda r: r.json()))
            for doc in page["documents"]:
                seen += 1
                check = self._document(doc, size, leaves, owners, jwks)
                if check is not None:
                    index, entry_time, snapshot = check
                    checks.add(index, doc, entry_time, snapshot)
            if self.progress:
                self.progress("documents", seen, None)
            token = page.get("next_page_token")
            if not token:
                break
        if self.complete and leaves is not None:
            for index in range(size):
                if index not in owners:
                    report.fail(
                        "missing-document", "the log entry belongs to no document the exchange lists", index
                    )

    def _document(
        self,
        doc: dict[str, Any],
        size: int,
        leaves: _Leaves | None,
        owners: dict[int, str],
        jwks: dict[str, dict[str, Any] | None],
    ) -> tuple[int, str, dict[str, Any]] | None:
        """The log checks of one listed document; for a full one whose log entry holds, what its
        signature check needs: ``(index, the entry's integrated time, the issuer's JWKS)``."""
        report = self.report
        index, doc_id = doc.get("log_index"), doc.get("id")
        if not isinstance(index, int) or index < 0:
            report.fail("bad-document", "the document has no valid log_index", None, doc_id)
            return None
        if index >= size:
            report.documents_after_checkpoint += 1
            return None
        if index in owners:
            report.fail(
                "duplicate-index", f"{owners[index]} and {doc_id} claim the same entry", index, doc_id
            )
            return None
        owners[index] = str(doc_id)
        full = doc.get("access", "full") == "full" and doc.get("jws")
        if full:
            report.documents_full += 1
        else:
            report.documents_metadata += 1
        if leaves is None:
            return None
        if str(doc.get("leaf_hash", "")).lower() != leaves.hashes[index].hex():
            report.fail(
                "document-leaf-mismatch", "the document's leaf_hash is not the entry's", index, doc_id
            )
            return None
        entry_time = leaves.times[index]
        if entry_time is None:
            return None
        try:
            served_time = parse_time(doc.get("integrated_time"))
        except ValueError:
            served_time = None
        if served_time is None or format_integrated_time(served_time) != entry_time:
            report.fail(
                "time-mismatch",
                f"integrated_time {doc.get('integrated_time')} is not the logged {entry_time}",
                index,
                doc_id,
            )
        if not full:
            return None
        if hashlib.sha256(str(doc["jws"]).encode("ascii", "replace")).digest() != leaves.digests[index]:
            report.fail(
                "jws-hash-mismatch",
                "the JWS served does not hash to the digest in the log entry",
                index,
                doc_id,
            )
            return None
        issuer = str(doc.get("issuer"))
        if issuer not in jwks:
            try:
                jwks[issuer] = self.client.get_jwks(issuer).model_dump(mode="json")
            except LnxClientError as exc:
                jwks[issuer] = None
                report.warnings.append(f"the JWKS of {issuer} could not be fetched: {exc}")
        snapshot = jwks[issuer]
        if snapshot is None:
            report.fail("jwks-unavailable", f"the keys of {issuer} could not be fetched", index, doc_id)
            return None
        return index, entry_time, snapshot


def run_audit(
    client: Client,
    *,
    log_key: str | None = None,
    state_path: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    complete: bool = True,
    progress: Progress | None = None,
    pool_threshold: int = POOL_THRESHOLD,
) -> AuditReport:
    """Audit the exchange ``client`` points at; see the module docstring.

    The state file keeps the log key (trust on first use) and the last checkpoint that passed,
    and is only advanced by an audit without failures.
    """
    workers = workers or os.cpu_count() or 1
    report = AuditReport(url=client.base_url, workers=workers)
    state = (read_json(state_path) if state_path else None) or {}
    auditor = _Auditor(client, report, state, progress, workers, complete)
    started = time.perf_counter()
    key = auditor.trusted_key(log_key)
    report.log_key = key
    if key is None or report.failures:
        return report
    opened = auditor.checkpoint(key)
    if opened is None:
        return report
    note, checkpoint = opened
    auditor.consistency(key, note, checkpoint)
    mark = time.perf_counter()
    report.seconds["checkpoint"] = mark - started

    leaves = auditor.leaves(checkpoint.size)
    report.seconds["entries"] = time.perf_counter() - mark
    mark = time.perf_counter()
    if leaves is not None:
        auditor.tree(checkpoint, leaves)
    report.seconds["root"] = time.perf_counter() - mark

    mark = time.perf_counter()
    checks = SignatureChecks(workers, pool_threshold)
    auditor.documents(checkpoint.size, leaves, checks)
    for verified, failures in checks.results(progress):
        report.signatures_verified += verified
        report.failures.extend(AuditFailure(*failure) for failure in failures)
    report.seconds["documents"] = time.perf_counter() - mark
    report.seconds["total"] = time.perf_counter() - started
    report.failures.sort(key=lambda f: (f.index is None, f.index or 0, f.code))

    if report.ok and state_path:
        write_json(
            state_path,
            {
                "url": client.base_url,
                "log_key": key,
                "origin": checkpoint.origin,
                "size": checkpoint.size,
                "root": report.root_hash,
                "checkpoint": note,
                "audited_at": format_integrated_time(datetime.now(UTC)),
            },
        )
    return report


def default_state_path(config_dir: Path, url: str, kind: str = "audit") -> Path:
    """``<config dir>/state/<kind>-<host_port>.json``: one state file per exchange (and per witness)."""
    slug = "".join(c if c.isalnum() else "_" for c in url.split("://", 1)[-1]).strip("_")
    return config_dir / "state" / f"{kind}-{slug}.json"
