"""Local verification of a stored log (``lnx db check``): does the database still prove what it signed?

Run after a restore, a migration or any doubt. It reads every table of the log once, in index
order, and recomputes everything from the leaves with the same pure core the auditors use
(``lnx_client.core``), trusting nothing that was stored derived:

1. every leaf's hash is RFC 9162 ``SHA-256(0x00 || leaf_data)`` and its data is a canonical
   ``lnx-entry/v1`` entry whose time matches the row; indexes have no gaps;
2. every stored perfect node of the integrated tree equals the recomputed one (proofs and tiles
   are served from those nodes, so a wrong node means wrong proofs);
3. every checkpoint's root equals the recomputed root at its size; the newest one carries a valid
   signature of the log key (and, optionally, every one does), names the configured origin and
   matches the tree head; the sequence counter equals the number of leaves;
4. every document's JWS hashes to its ``jws_sha256``, which is the digest its leaf commits to,
   and every leaf belongs to exactly one document (nothing accepted is missing).

Memory stays flat: leaves, documents, nodes and checkpoints are read in keyset-paged chunks and
the tree is kept as a compact range (one hash per level). Cost is a few SHA-256 per entry plus
the reads: 100,000 entries took 11 s on the (busy) 2-core test machine (``docs/operations.md``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lnx_client.core import entry, merkle, note
from lnx_client.core.checkpoint import CheckpointError, parse_checkpoint
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.documents.models import Document
from app.log import repository as log_repository
from app.log.models import LogCheckpoint, LogLeaf, LogNode

__all__ = ["CHUNK", "Problem", "LogCheckReport", "check_log"]

CHUNK = 2000
"""Leaves (and their documents and nodes) read per query."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: where (entry index, checkpoint size, document id) and what is wrong."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class LogCheckReport:
    leaves: int = 0
    documents: int = 0
    nodes_checked: int = 0
    checkpoints: int = 0
    tree_size: int = 0
    newest_checkpoint: int | None = None
    signature_checked: bool = False
    problems: list[Problem] = field(default_factory=list)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "leaves": self.leaves,
            "documents": self.documents,
            "nodes_checked": self.nodes_checked,
            "checkpoints": self.checkpoints,
            "tree_size": self.tree_size,
            "newest_checkpoint": self.newest_checkpoint,
            "signature_checked": self.signature_checked,
            "problems": [str(p) for p in self.problems],
            "truncated": self.truncated,
        }


def _as_bytes(value: bytes | str) -> bytes:
    # A row edited by hand on SQLite can come back as text (``blob || blob`` is text there).
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)


class _Enough(Exception):
    """Raised once ``max_problems`` findings are collected: a broken log yields little more."""


class _Checker:
    def __init__(
        self,
        session: Session,
        verifier: note.NoteVerifier | None,
        origin: str | None,
        *,
        all_signatures: bool,
        max_problems: int,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.session = session
        self.verifier = verifier
        self.origin = origin
        self.all_signatures = all_signatures
        self.max_problems = max_problems
        self.progress = progress
        self.report = LogCheckReport()

    def problem(self, where: str, message: str) -> None:
        self.report.problems.append(Problem(where, message))
        if len(self.report.problems) >= self.max_problems:
            self.report.truncated = True
            raise _Enough

    # ------------------------------------------------------------ reads (keyset-paged)

    def _leaves(self) -> Iterator[list[tuple[int, bytes, bytes, datetime]]]:
        start = 0
        while True:
            rows = self.session.execute(
                select(LogLeaf.idx, LogLeaf.leaf_hash, LogLeaf.leaf_data, LogLeaf.integrated_time)
                .where(LogLeaf.idx >= start)
                .order_by(LogLeaf.idx)
                .limit(CHUNK)
            ).all()
            if not rows:
                return
            yield [(int(i), _as_bytes(h), _as_bytes(d), t) for i, h, d, t in rows]
            start = int(rows[-1][0]) + 1

    def _documents(self, start: int, end: int) -> dict[int, Any]:
        rows = self.session.execute(
            select(
                Document.id,
                Document.log_index,
                Document.jws,
                Document.jws_sha256,
                Document.leaf_hash,
            ).where(Document.log_index >= start, Document.log_index < end)
        ).all()
        return {int(r.log_index): r for r in rows}

    def _checkpoints(self) -> Iterator[tuple[int, bytes, str]]:
        after = -1
        while True:
            rows = self.session.execute(
                select(LogCheckpoint.size, LogCheckpoint.root_hash, LogCheckpoint.note)
                .where(LogCheckpoint.size > after)
                .order_by(LogCheckpoint.size)
                .limit(CHUNK)
            ).all()
            if not rows:
                return
            for size, root, text in rows:
                yield int(size), bytes(root), text
            after = int(rows[-1][0])

    def _stored_nodes(self, level: int, first: int, last: int) -> dict[int, bytes]:
        rows = self.session.execute(
            select(LogNode.idx, LogNode.hash).where(
                LogNode.level == level, LogNode.idx >= first, LogNode.idx <= last
            )
        ).all()
        return {int(i): bytes(h) for i, h in rows}

    # ------------------------------------------------------------ checks

    def run(self) -> LogCheckReport:
        try:
            self._run()
        except _Enough:
            pass
        return self.report

    def _run(self) -> None:
        head_size, head_root = log_repository.tree_head(self.session)
        next_index = log_repository.next_index(self.session)
        self.report.tree_size = head_size
        frontier = merkle.CompactRange()
        checkpoints = self._checkpoints()
        pending_cp = next(checkpoints, None)
        newest: tuple[int, bytes, str] | None = None

        def settle_checkpoints() -> None:
            # Compare every checkpoint whose size the recomputed tree has just reached.
            nonlocal pending_cp, newest
            while pending_cp is not None and pending_cp[0] <= frontier.size:
                size, root, text = pending_cp
                if size == frontier.size:
                    self._check_checkpoint(size, root, text, frontier.root())
                newest = pending_cp
                pending_cp = next(checkpoints, None)

        settle_checkpoints()  # the size-0 checkpoint
        if head_size == 0 and head_root != merkle.EMPTY_ROOT:
            self.problem("tree head", "size 0 with a root other than the empty tree's")
        for chunk in self._leaves():
            first, last = chunk[0][0], chunk[-1][0]
            docs = self._documents(first, last + 1)
            computed_nodes: list[tuple[merkle.NodeID, bytes]] = []
            for idx, stored_hash, data, itime in chunk:
                if idx != frontier.size:
                    # Everything after a gap would be measured against the wrong tree: stop here.
                    self.report.truncated = True
                    self.problem(f"entry {frontier.size}", f"missing: the next stored entry is {idx}")
                    raise _Enough
                leaf = merkle.leaf_hash(data)
                if leaf != stored_hash:
                    self.problem(f"entry {idx}", "stored leaf hash is not SHA-256(0x00 || leaf data)")
                digest = self._check_entry(idx, data, itime)
                self._check_document(idx, docs.pop(idx, None), leaf, digest)
                for node in frontier.append(leaf):
                    if idx < head_size:
                        computed_nodes.append(node)
                if frontier.size == head_size and frontier.root() != head_root:
                    self.problem("tree head", f"root of size {head_size} differs from the recomputed root")
                settle_checkpoints()
            self._check_nodes(computed_nodes)
            self.report.leaves = frontier.size
            if self.progress:
                self.progress(frontier.size)
        self.report.leaves = frontier.size
        self._check_totals(frontier.size, head_size, next_index)
        while pending_cp is not None:
            self.problem(
                f"checkpoint {pending_cp[0]}", f"covers more entries than the {frontier.size} stored"
            )
            pending_cp = next(checkpoints, None)
        self._check_newest(newest, head_size)

    def _check_entry(self, idx: int, data: bytes, itime: datetime) -> str | None:
        try:
            parsed = entry.parse_entry(data)
        except ValueError:
            self.problem(f"entry {idx}", "leaf data is not a canonical lnx-entry/v1 entry")
            return None
        if parsed.integrated_time != itime:
            self.problem(f"entry {idx}", "integrated time of the row differs from the time in the leaf")
        return parsed.jws_sha256_hex

    def _check_document(self, idx: int, doc: Any, leaf: bytes, digest: str | None) -> None:
        if doc is None:
            self.problem(f"entry {idx}", "no document is stored for this log entry")
            return
        self.report.documents += 1
        actual = hashlib.sha256(doc.jws.encode("utf-8")).hexdigest()
        if actual != doc.jws_sha256:
            self.problem(f"entry {idx}", f"document {doc.id}: its JWS does not hash to its jws_sha256")
        elif digest is not None and actual != digest:
            self.problem(
                f"entry {idx}", f"document {doc.id}: its JWS is not the one the log entry commits to"
            )
        if doc.leaf_hash != leaf.hex():
            self.problem(
                f"entry {idx}", f"document {doc.id}: its recorded leaf hash differs from the entry's"
            )

    def _check_nodes(self, computed: list[tuple[merkle.NodeID, bytes]]) -> None:
        by_level: dict[int, list[tuple[int, bytes]]] = {}
        for (level, idx), h in computed:
            by_level.setdefault(level, []).append((idx, h))
        for level, nodes in sorted(by_level.items()):
            stored = self._stored_nodes(level, nodes[0][0], nodes[-1][0])
            for idx, h in nodes:
                self.report.nodes_checked += 1
                found = stored.get(idx)
                if found == h:
                    continue
                state = "missing" if found is None else "differs from the recomputed hash"
                self.problem(
                    f"entry {idx << level}", f"stored tree node (level {level}, index {idx}) {state}"
                )

    def _check_checkpoint(self, size: int, root: bytes, text: str, computed_root: bytes) -> None:
        self.report.checkpoints += 1
        if root != computed_root:
            self.problem(
                f"checkpoint {size}", "stored root differs from the root recomputed from the entries"
            )
        try:
            body, _ = note.split_note(text)
            parsed = parse_checkpoint(body)
        except (note.NoteError, CheckpointError):
            self.problem(f"checkpoint {size}", "its signed note is malformed")
            return
        if parsed.size != size or parsed.root_hash != root:
            self.problem(f"checkpoint {size}", "its signed note states another size or root than its row")
        if self.all_signatures:
            self._verify_signature(size, text)

    def _verify_signature(self, size: int, text: str) -> bool:
        if self.verifier is None:
            return False
        try:
            note.open_note(text, [self.verifier])
        except note.NoteError:
            self.problem(f"checkpoint {size}", f"not signed by the log key {self.verifier.name}")
            return False
        return True

    def _check_totals(self, leaves: int, head_size: int, next_index: int) -> None:
        if head_size > leaves:
            self.problem("tree head", f"claims {head_size} entries but only {leaves} are stored")
        if next_index != leaves:
            self.problem("log sequence", f"next index is {next_index} but {leaves} entries are stored")
        orphan = self.session.execute(
            select(Document.id, Document.log_index)
            .where(Document.log_index >= leaves)
            .order_by(Document.log_index)
            .limit(1)
        ).first()
        if orphan is not None:
            self.problem(
                f"entry {orphan.log_index}", f"document {orphan.id} names a log entry that is not stored"
            )

    def _check_newest(self, newest: tuple[int, bytes, str] | None, head_size: int) -> None:
        if newest is None:
            # A database that was migrated but never served has neither entries nor checkpoints.
            if self.report.leaves or head_size:
                self.problem("checkpoints", "the log has entries but no signed checkpoint")
            return
        size, _root, text = newest
        self.report.newest_checkpoint = size
        if size != head_size:
            self.problem(f"checkpoint {size}", f"the newest checkpoint is not at the tree head ({head_size})")
        if self.origin is not None:
            try:
                origin = parse_checkpoint(note.split_note(text)[0]).origin
            except (note.NoteError, CheckpointError):
                origin = None
            if origin is not None and origin != self.origin:
                self.problem(f"checkpoint {size}", f"origin {origin!r} is not the configured {self.origin!r}")
        if self.verifier is None:
            self.problem(f"checkpoint {size}", "no log key given: the signature could not be verified")
            return
        self.report.signature_checked = self._verify_signature(size, text)


def check_log(
    session: Session,
    verifier: note.NoteVerifier | None,
    *,
    origin: str | None = None,
    all_signatures: bool = False,
    max_problems: int = 20,
    progress: Callable[[int], None] | None = None,
) -> LogCheckReport:
    """Verify the stored log against itself and the log key; the report lists problems, first first."""
    return _Checker(
        session,
        verifier,
        origin,
        all_signatures=all_signatures,
        max_problems=max(1, max_problems),
        progress=progress,
    ).run()
