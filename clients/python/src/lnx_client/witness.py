"""A witness (C2SP tlog-cosignature): cosigns the exchange's checkpoints after checking them.

Each :meth:`Witness.step` fetches the newest checkpoint, verifies the log's signature, proves it
consistent with the last checkpoint this witness cosigned (kept in a state file), cosigns it and
sends the cosignature to ``POST /v1/log/cosignatures``. If the exchange ever shows two
checkpoints that cannot both be true -- same size and different roots, or a consistency proof
that fails -- the witness refuses with :class:`SplitViewError`: that is the evidence of a forked
log, and the two notes are kept in the error for whoever investigates.

Witness keys are kept as ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x04 || Ed25519 seed)>``, the
signed-note private key format with the cosignature type byte.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from .client import Client
from .core import note
from .core.cosignature import ALG_COSIGNATURE_V1, CosignatureSigner, CosignatureVerifier, cosign
from .core.entry import format_integrated_time
from .cursor import read_json, write_json
from .errors import LnxClientError, VerificationError
from .verify import log_verifier, open_log_checkpoint, verify_consistency

__all__ = [
    "CosignOutcome",
    "SplitViewError",
    "Witness",
    "generate_witness_key",
    "load_witness_key",
]

_PRIVATE_PREFIX = "PRIVATE+KEY+"


class SplitViewError(LnxClientError):
    """The exchange served two checkpoints that cannot both be true; both notes are attached."""

    def __init__(self, reason: str, old_note: str, new_note: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.old_note = old_note
        self.new_note = new_note


def generate_witness_key(name: str) -> tuple[str, str]:
    """A new witness key for ``name``: ``(private key string, verifier key string)``."""
    key = Ed25519PrivateKey.generate()
    signer = CosignatureSigner(name, key)
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    b64 = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + seed).decode()
    return f"{_PRIVATE_PREFIX}{name}+{signer.key_id.hex()}+{b64}", signer.vkey


def load_witness_key(skey: str) -> CosignatureSigner:
    """Parse a witness private key string (see the module docstring)."""
    skey = skey.strip()
    if not skey.startswith(_PRIVATE_PREFIX):
        raise note.NoteError("a witness key starts with PRIVATE+KEY+")
    parts = skey[len(_PRIVATE_PREFIX) :].split("+", 2)
    if len(parts) != 3:
        raise note.NoteError("a witness key is PRIVATE+KEY+name+keyid+key")
    name, hex_id, b64 = parts
    raw = note.b64decode_strict(b64, "witness key")
    if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
        raise note.NoteError("not a cosignature (0x04) Ed25519 key")
    signer = CosignatureSigner(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if hex_id.lower() != signer.key_id.hex():
        raise note.NoteError("the witness key ID does not match its name and key")
    return signer


@dataclass
class CosignOutcome:
    """What one step did: ``action`` is ``cosigned``, ``already-cosigned`` or ``stale``."""

    action: str
    size: int
    root_hash: str
    previous_size: int | None
    message: str
    warnings: list[str] = field(default_factory=list)
    response: dict[str, Any] | None = None


class Witness:
    """Cosigns an exchange's checkpoints; see the module docstring."""

    def __init__(
        self,
        client: Client,
        signer: CosignatureSigner,
        *,
        state_path: str | os.PathLike[str],
        log_key: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.signer = signer
        self.state_path = state_path
        self._log_key = log_key.strip() if log_key else None
        self._clock = clock

    def _trusted_key(self, state: dict[str, Any], warnings: list[str]) -> str:
        if self._log_key:
            return self._log_key
        if state.get("log_key"):
            return str(state["log_key"])
        served = self.client.log_key()
        warnings.append(
            "TRUST ON FIRST USE: the log key was fetched from the exchange itself; compare it with "
            f"the published one out of band: {served}"
        )
        return served

    def step(self) -> CosignOutcome:
        """Check and cosign the newest checkpoint once; raises :class:`SplitViewError` on a fork."""
        state = read_json(self.state_path) or {}
        warnings: list[str] = []
        key = self._trusted_key(state, warnings)
        served_note = self.client.log_checkpoint()
        checkpoint = open_log_checkpoint(served_note, key, origin=state.get("origin"))
        log_only = _log_signed_note(served_note, key)
        old_note: str | None = state.get("checkpoint")
        old_size: int | None = state.get("size")
        root_b64 = base64.b64encode(checkpoint.root_hash).decode()

        if old_note is not None and old_size is not None:
            if checkpoint.size < old_size:
                self._prove(served_note, old_note, key)
                return CosignOutcome(
                    "stale",
                    checkpoint.size,
                    root_b64,
                    old_size,
                    f"the exchange served checkpoint {checkpoint.size}, older than the cosigned {old_size}; not cosigning",
                    warnings,
                )
            self._prove(old_note, served_note, key)
            if checkpoint.size == old_size and self._cosigned(served_note):
                return CosignOutcome(
                    "already-cosigned",
                    checkpoint.size,
                    root_b64,
                    old_size,
                    f"checkpoint {checkpoint.size} already carries this witness's cosignature",
                    warnings,
                )

        timestamp = max(int(self._clock()), int(state.get("timestamp", 0)))
        line = cosign(checkpoint.to_text(), self.signer, timestamp)
        body = note.add_signatures(log_only, note.parse_signature_line(line.rstrip("\n")))
        accepted = self.client.post_cosignature(body)
        write_json(
            self.state_path,
            {
                "url": self.client.base_url,
                "log_key": key,
                "origin": checkpoint.origin,
                "size": checkpoint.size,
                "root": root_b64,
                "checkpoint": log_only,
                "timestamp": timestamp,
                "cosigned_at": format_integrated_time(datetime.now(UTC)),
            },
        )
        return CosignOutcome(
            "cosigned",
            checkpoint.size,
            root_b64,
            old_size,
            f"cosigned checkpoint {checkpoint.size}",
            warnings,
            accepted.model_dump(mode="json"),
        )

    def _prove(self, older: str, newer: str, key: str) -> None:
        """Raise :class:`SplitViewError` unless ``newer`` is consistent with ``older``."""
        old_cp = open_log_checkpoint(older, key)
        new_cp = open_log_checkpoint(newer, key)
        if old_cp.size == new_cp.size:
            if old_cp.root_hash != new_cp.root_hash:
                raise SplitViewError(f"two different roots for tree size {new_cp.size}", older, newer)
            return
        proof = self.client.consistency_proof(old_cp.size, new_cp.size)
        try:
            verify_consistency(older, newer, proof, key)
        except VerificationError as exc:
            raise SplitViewError(str(exc), older, newer) from exc

    def _cosigned(self, served_note: str) -> bool:
        verifier = CosignatureVerifier(self.signer.name, self.signer.public_key)
        try:
            opened = note.open_note(served_note, [verifier])
        except note.NoteError:
            return False
        return opened.signed_by(verifier) is not None


def _log_signed_note(served_note: str, key: str) -> str:
    """The checkpoint note with the log's signature only (other witnesses' lines dropped)."""
    verifier = log_verifier(key)
    text, signatures = note.split_note(served_note)
    mine = [s for s in signatures if (s.name, s.key_id) == (verifier.name, verifier.key_id)]
    return note.sign_note(text, *mine)
