"""C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature): Ed25519 witness cosignatures.

A cosignature is a note signature of type 0x04 over a checkpoint. Its key ID is
``SHA-256(name || 0x0A || 0x04 || public key)[:4]``; the bytes after the key ID are a
``timestamped_signature``: the POSIX time as a big-endian uint64, then an Ed25519 signature over

    cosignature/v1\\n
    time <timestamp>\\n
    <the whole checkpoint note text>

The verifier plugs into ``note.open_note`` and reports the verified timestamp on the signature.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .checkpoint import parse_checkpoint
from .note import (
    Ed25519KeyVerifier,
    NoteSignature,
    NoteSigner,
    check_key_name,
    format_vkey,
    key_id,
)

__all__ = [
    "ALG_COSIGNATURE_V1",
    "MAX_TIMESTAMP",
    "CosignatureSigner",
    "CosignatureVerifier",
    "cosign",
    "cosigned_message",
]

ALG_COSIGNATURE_V1 = 0x04
"""Signature type byte of timestamped Ed25519 cosignatures (signed-note §Signature types)."""

MAX_TIMESTAMP = 2**63 - 1
"""A cosignature timestamp MUST NOT exceed 2^63 - 1 (tlog-cosignature §Format)."""

_SIG_SIZE = 8 + 64


def cosigned_message(checkpoint_text: bytes, timestamp: int) -> bytes:
    """The Ed25519 signed message of tlog-cosignature §Ed25519 signed message."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"cosignature timestamp must be between 0 and {MAX_TIMESTAMP}")
    return b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + checkpoint_text


class CosignatureSigner(NoteSigner):
    """A witness key that cosigns checkpoints (type 0x04).

    ``sign`` stamps the current time from ``clock`` (seconds since the epoch); ``sign_at`` takes
    an explicit timestamp.
    """

    def __init__(
        self,
        name: str,
        private_key: Ed25519PrivateKey,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_key_name(name)
        self.name = name
        self._key = private_key
        self._clock = clock
        self.public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id(name, bytes([ALG_COSIGNATURE_V1]) + self.public_key)

    @classmethod
    def from_private_key(cls, name: str, private_key: Ed25519PrivateKey) -> CosignatureSigner:
        """A cosigner for ``name`` with an existing key."""
        return cls(name, private_key)

    @property
    def vkey(self) -> str:
        """``<name>+<hex key ID>+<base64(0x04 || public key)>``."""
        return format_vkey(self.name, bytes([ALG_COSIGNATURE_V1]) + self.public_key)

    def verifier(self) -> CosignatureVerifier:
        """The matching verifier."""
        return CosignatureVerifier(self.name, self.public_key)

    def sign_at(self, text: bytes, timestamp: int) -> bytes:
        """``timestamp (uint64 BE) || Ed25519(cosigned_message)``: the bytes after the key ID."""
        signature = self._key.sign(cosigned_message(text, timestamp))
        return timestamp.to_bytes(8, "big") + signature

    def sign(self, text: bytes) -> bytes:
        """Cosign ``text`` at the current time."""
        return self.sign_at(text, int(self._clock()))


class CosignatureVerifier(Ed25519KeyVerifier):
    """Verifies a witness's cosignatures; usable in ``note.open_note``."""

    SIGNATURE_TYPE = ALG_COSIGNATURE_V1
    TYPE_NAME = "a cosignature"

    def signature_timestamp(self, signature: bytes) -> int | None:
        """The timestamp a well-formed cosignature carries (check ``verify`` first)."""
        if len(signature) != _SIG_SIZE:
            return None
        return int.from_bytes(signature[:8], "big")

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Check a ``timestamped_signature`` over the checkpoint ``text``."""
        if len(signature) != _SIG_SIZE:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        try:
            self._key.verify(signature[8:], cosigned_message(text, timestamp))
        except InvalidSignature:
            return False
        return True


def cosign(checkpoint_text: str, signer: CosignatureSigner, timestamp: int) -> str:
    """The cosignature line (ending in a newline) of ``signer`` on a checkpoint's note text.

    The text must parse as a checkpoint: a witness only vouches for tree heads.
    """
    parse_checkpoint(checkpoint_text)
    raw = checkpoint_text.encode()
    sig = NoteSignature(signer.name, signer.key_id, signer.sign_at(raw, timestamp))
    return sig.line + "\n"
