"""C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the signed tree head's note text.

The note text is the origin line, the tree size in decimal (no leading zeros), the base64 root
hash (RFC 6962 / 9162 Merkle tree), and optional non-empty extension lines, each ending in a
newline. The signatures around it are handled by ``note`` and ``cosignature``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .merkle import HASH_SIZE
from .note import NoteError, NoteVerifier, OpenedNote, b64decode_strict, open_note

__all__ = [
    "MAX_TREE_SIZE",
    "Checkpoint",
    "CheckpointError",
    "open_checkpoint",
    "parse_checkpoint",
]

MAX_TREE_SIZE = 2**64 - 1
"""Tree sizes are unsigned 64-bit integers throughout the tlog specifications."""

_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class CheckpointError(ValueError):
    """A checkpoint's text is malformed or does not match what was expected."""


def _check_line(value: str, what: str) -> None:
    if not value:
        raise CheckpointError(f"{what} must be non-empty")
    if "\n" in value or any(c < " " for c in value):
        raise CheckpointError(f"{what} must be a single line without control characters")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: origin, size and root hash (plus opaque extension lines)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError("tree size must fit an unsigned 64-bit integer")
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"root hash must be {HASH_SIZE} bytes")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for ext in self.extensions:
            _check_line(ext, "extension line")

    def to_text(self) -> str:
        """The note text: every line, including the last, ends with a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint note text strictly (tlog-checkpoint §Note text)."""
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint text needs origin, size and root hash lines")
    origin, size_line, root_line, *extensions = lines
    if not _DECIMAL.fullmatch(size_line):
        raise CheckpointError("tree size must be a decimal number without leading zeros")
    try:
        root = b64decode_strict(root_line, "root hash")
    except NoteError as exc:
        raise CheckpointError(str(exc)) from exc
    return Checkpoint(origin, int(size_line), root, tuple(extensions))


def open_checkpoint(
    note: str | bytes,
    verifiers: Iterable[NoteVerifier],
    *,
    origin: str | None = None,
    required: Sequence[NoteVerifier] = (),
) -> tuple[Checkpoint, OpenedNote]:
    """Open a signed checkpoint note and parse its text.

    ``required`` verifiers (typically the log's key) must each have a verified signature, so a
    note signed only by some other known key (a witness) is not taken for the log's.
    ``origin``, if given, must equal the checkpoint's origin line.
    """
    required = list(required)
    opened = open_note(note, [*verifiers, *required])
    for v in required:
        if opened.signed_by(v) is None:
            raise NoteError(f"checkpoint is not signed by {v.name}")
    checkpoint = parse_checkpoint(opened.text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint, opened
