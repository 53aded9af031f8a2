"""C2SP tlog-proof (https://c2sp.org/tlog-proof): offline-verifiable proof that data was logged.

::

    c2sp.org/tlog-proof@v1
    [extra <base64 opaque data>]
    index <decimal, no leading zeros>
    <base64 inclusion-proof hash, leaf's sibling first>   (zero or more lines)
    <empty line>
    <the signed checkpoint note, verbatim>

Verifying one opens the checkpoint with the log's key (and optionally counts witness
cosignatures), then checks the RFC 9162 inclusion proof of the leaf against its root.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .checkpoint import Checkpoint, open_checkpoint
from .merkle import HASH_SIZE, leaf_hash, verify_inclusion
from .note import NoteError, NoteVerifier, b64decode_strict, split_note

__all__ = [
    "HEADER",
    "TlogProof",
    "TlogProofError",
    "format_tlog_proof",
    "format_tlog_proofs",
    "parse_tlog_proof",
    "verify_tlog_proof",
]

HEADER = "c2sp.org/tlog-proof@v1"
"""First line of every proof."""

_MAX_PROOF_HASHES = 64  # a tree of at most 2^64 leaves has at most 64 levels
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class TlogProofError(ValueError):
    """A tlog-proof is malformed, or its witness policy is not met."""


@dataclass(frozen=True, slots=True)
class TlogProof:
    """The parts of a tlog-proof; ``extra`` is unauthenticated and must not be trusted."""

    index: int
    proof: tuple[bytes, ...] = field(repr=False)
    checkpoint_note: str
    extra: bytes | None = None


def format_tlog_proof(
    index: int, proof: Sequence[bytes], checkpoint_note: str, extra: bytes | None = None
) -> str:
    """Render a tlog-proof; the checkpoint note is checked for note syntax and copied verbatim."""
    return format_tlog_proofs([(index, proof)], checkpoint_note, extra)[0]


def format_tlog_proofs(
    entries: Iterable[tuple[int, Sequence[bytes]]], checkpoint_note: str, extra: bytes | None = None
) -> list[str]:
    """Render the tlog-proofs of several entries against one checkpoint, checking its note once.

    A server answering a batch of submissions proves every entry against the checkpoint it has
    just signed; checking that note's syntax once per entry cost more than rendering the proofs.
    """
    split_note(checkpoint_note)
    head = HEADER + ("\nextra " + base64.b64encode(extra).decode() if extra is not None else "")
    out = []
    for index, proof in entries:
        if index < 0:
            raise TlogProofError("index must be non-negative")
        if len(proof) > _MAX_PROOF_HASHES or any(len(h) != HASH_SIZE for h in proof):
            raise TlogProofError(
                f"inclusion proof must be at most {_MAX_PROOF_HASHES} hashes of {HASH_SIZE} bytes"
            )
        lines = [head, f"index {index}"]
        lines.extend(base64.b64encode(h).decode() for h in proof)
        out.append("\n".join(lines) + "\n\n" + checkpoint_note)
    return out


def _field(line: str, name: str) -> str:
    prefix = name + " "
    if not line.startswith(prefix):
        raise TlogProofError(f"expected an {name!r} line")
    return line[len(prefix) :]


def parse_tlog_proof(text: str) -> TlogProof:
    """Parse a tlog-proof strictly (tlog-proof §Format); the checkpoint note is not verified."""
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise TlogProofError("tlog-proof has no empty line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise TlogProofError(f"tlog-proof must start with {HEADER!r}")
    pos = 1
    extra = None
    if pos < len(lines) and lines[pos].startswith("extra "):
        extra = _decode(_field(lines[pos], "extra"), "extra data")
        pos += 1
    if pos >= len(lines):
        raise TlogProofError("tlog-proof has no index line")
    raw_index = _field(lines[pos], "index")
    if not _DECIMAL.fullmatch(raw_index):
        raise TlogProofError("index must be a decimal number without leading zeros")
    hashes = lines[pos + 1 :]
    if len(hashes) > _MAX_PROOF_HASHES:
        raise TlogProofError("inclusion proof is too long")
    proof = tuple(_decode(h, "proof hash") for h in hashes)
    if any(len(h) != HASH_SIZE for h in proof):
        raise TlogProofError(f"proof hashes must be {HASH_SIZE} bytes")
    try:
        split_note(note)
    except NoteError as exc:
        raise TlogProofError(f"malformed checkpoint note: {exc}") from exc
    return TlogProof(int(raw_index), proof, note, extra)


def _decode(value: str, what: str) -> bytes:
    try:
        return b64decode_strict(value, what)
    except NoteError as exc:
        raise TlogProofError(str(exc)) from exc


def verify_tlog_proof(
    text: str,
    leaf_data: bytes,
    log_verifier: NoteVerifier,
    *,
    origin: str | None = None,
    witnesses: Sequence[NoteVerifier] = (),
    witness_quorum: int = 0,
) -> Checkpoint:
    """Verify that ``leaf_data`` is logged per a tlog-proof; return the checkpoint it is proven in.

    The checkpoint must carry a valid signature by ``log_verifier``, have the given ``origin``
    (if any), and carry valid cosignatures from at least ``witness_quorum`` of ``witnesses``.
    Raises a ``ValueError`` subclass (``TlogProofError``, ``NoteError``, ``ProofError``, ...).
    """
    parsed = parse_tlog_proof(text)
    checkpoint, opened = open_checkpoint(
        parsed.checkpoint_note, witnesses, origin=origin, required=[log_verifier]
    )
    cosigned = len({(w.name, w.key_id) for w in witnesses if opened.signed_by(w) is not None})
    if cosigned < witness_quorum:
        raise TlogProofError(f"checkpoint has {cosigned} of the {witness_quorum} required cosignatures")
    verify_inclusion(leaf_hash(leaf_data), parsed.index, checkpoint.size, parsed.proof, checkpoint.root_hash)
    return checkpoint
