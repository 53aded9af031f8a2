"""Offline verification: documents against a JWKS snapshot, receipts and checkpoints against the log key.

Nothing here talks to the network. Each function raises :class:`VerificationError` with a stable
``code`` and a message naming what did not hold, or returns what it established.

- :func:`verify_document` -- the JWS is strict (core ``jws``), signed by a key of the JWKS that was
  valid at ``at`` (the integration time: not before ``not_before``, before ``not_after``, and not
  revoked before it). A key revoked *after* the document was logged still verifies it (contract §1).
- :func:`verify_receipt` -- the document's ``lnx-entry/v1`` leaf is included (RFC 9162 proof) in a
  checkpoint signed by the log key (C2SP tlog-proof).
- :func:`verify_consistency` -- two checkpoints signed by the log key, the newer extends the older.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .core import merkle
from .core.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from .core.entry import entry_bytes, format_integrated_time
from .core.jwk import JwkError, PublicJwk, parse_public_jwk
from .core.jws import HeaderCache, JwsError, ParsedJws, parse_compact, verify_signed_bytes
from .core.note import NoteError, NoteVerifier, Verifier
from .core.tlogproof import TlogProofError, parse_tlog_proof, verify_tlog_proof
from .errors import VerificationError
from .models import ConsistencyProof, Jwks, Receipt

__all__ = [
    "KeySet",
    "VerifiedDocument",
    "check_signature",
    "issuer_problem",
    "key_valid_at",
    "log_verifier",
    "open_log_checkpoint",
    "parse_document",
    "parse_time",
    "validity_problem",
    "verify_consistency",
    "verify_document",
    "verify_receipt",
]


@dataclass(frozen=True, slots=True)
class VerifiedDocument:
    """A document whose signature verified, with the key that made it."""

    payload: dict[str, Any]
    header: dict[str, Any]
    kid: str
    key: dict[str, Any]
    checked_at: datetime


def parse_time(value: datetime | str | None) -> datetime | None:
    """An aware UTC datetime from an RFC 3339 string or datetime (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("times must carry a UTC offset")
    return value.astimezone(UTC)


def _jwks_keys(jwks: Jwks | Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if isinstance(jwks, Jwks):
        return list(jwks.keys)
    if isinstance(jwks, Mapping):
        keys = jwks.get("keys")
        if not isinstance(keys, list):
            raise VerificationError("invalid-jwks", "the JWKS has no 'keys' list")
        return keys
    return list(jwks)


def _validity_problem(
    not_before: datetime | None, not_after: datetime | None, revoked_at: datetime | None, at: datetime
) -> str | None:
    if not_before is not None and at < not_before:
        return f"it was not valid before {format_integrated_time(not_before)}"
    if not_after is not None and at >= not_after:
        return f"it expired at {format_integrated_time(not_after)}"
    if revoked_at is not None and at >= revoked_at:
        return f"it was revoked at {format_integrated_time(revoked_at)}, before {format_integrated_time(at)}"
    return None


def key_valid_at(key: Mapping[str, Any], at: datetime) -> str | None:
    """Why the JWKS entry ``key`` was not valid at ``at``, or ``None`` if it was."""
    try:
        times = [parse_time(key.get(name)) for name in ("not_before", "not_after", "revoked_at")]
    except ValueError:
        return "its validity times are not RFC 3339"
    return _validity_problem(*times, at)


@dataclass(frozen=True, slots=True)
class _SnapshotKey:
    entry: dict[str, Any]
    public: PublicJwk | None
    problem: str | None  # why the key cannot be used at all
    not_before: datetime | None = None
    not_after: datetime | None = None
    revoked_at: datetime | None = None


class KeySet:
    """A participant's JWKS snapshot with every key parsed once, for verifying many documents.

    Accepts what ``GET /v1/participants/{code}/keys`` returns (a :class:`Jwks`, its JSON as a
    dict, or the list of keys); each key carries ``not_before``, ``not_after`` and ``revoked_at``.
    """

    def __init__(self, jwks: Jwks | Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
        self._keys: dict[str, _SnapshotKey] = {}
        for entry in _jwks_keys(jwks):
            kid = entry.get("kid")
            if isinstance(kid, str):
                self._keys.setdefault(kid, _snapshot_key(entry))

    def get(self, kid: str) -> _SnapshotKey | None:
        return self._keys.get(kid)

    def __len__(self) -> int:
        return len(self._keys)


def validity_problem(key: _SnapshotKey, at: datetime) -> str | None:
    """Why the JWKS snapshot's ``key`` was not valid at ``at``, or ``None`` if it was."""
    return _validity_problem(key.not_before, key.not_after, key.revoked_at, at)


def _snapshot_key(entry: Mapping[str, Any]) -> _SnapshotKey:
    try:
        public = parse_public_jwk(entry)
    except JwkError as exc:
        return _SnapshotKey(dict(entry), None, f"the key is not acceptable: {exc}")
    try:
        times = [parse_time(entry.get(name)) for name in ("not_before", "not_after", "revoked_at")]
    except ValueError:
        return _SnapshotKey(dict(entry), None, "its validity times are not RFC 3339")
    return _SnapshotKey(dict(entry), public, None, *times)


def _parse(jws: str | bytes, header_cache: HeaderCache | None = None) -> ParsedJws:
    try:
        return parse_compact(jws, header_cache=header_cache)
    except JwsError as exc:
        raise VerificationError(f"jws-{exc.code.replace('_', '-')}", f"the JWS is malformed: {exc}") from None


def verify_document(
    jws: str | bytes,
    jwks: KeySet | Jwks | Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    at: datetime | str | None = None,
    issuer: str | None = None,
) -> VerifiedDocument:
    """Verify a document's JWS with the issuer's JWKS snapshot, as of ``at`` (default: now).

    Pass the receipt's or leaf's ``integrated_time`` as ``at`` for a document that was logged:
    what matters is that the key was valid when the log took the document. ``issuer``, when
    given, must be the payload's ``issuer`` (the JWKS is that participant's). Pass a
    :class:`KeySet` to verify many documents without parsing the keys each time.
    """
    when = parse_time(at) or datetime.now(UTC)
    parsed = _parse(jws)
    keys = jwks if isinstance(jwks, KeySet) else KeySet(jwks)
    key = _check_parsed(parsed, keys, when, issuer)
    return VerifiedDocument(parsed.payload, parsed.header, parsed.kid, key.entry, when)


def parse_document(jws: str | bytes, header_cache: HeaderCache | None = None) -> ParsedJws:
    """The strict reading of a document's JWS (core :func:`~lnx_client.core.jws.parse_compact`),
    its refusals as :class:`VerificationError` (``jws-<code>``), as in :func:`verify_document`."""
    return _parse(jws, header_cache)


def check_signature(
    kid: str, alg: Any, signing_input: bytes, signature: bytes, keys: KeySet, when: datetime
) -> _SnapshotKey:
    """:func:`verify_document`'s checks after the parse and before the issuer, on the parts of a
    parsed JWS: ``kid`` is in the JWKS, usable, valid at ``when``; ``alg`` is the key's; the
    signature verifies. Raises :class:`VerificationError`; returns the JWKS entry."""
    key = keys.get(kid)
    if key is None:
        raise VerificationError("unknown-kid", f"no key {kid} in the JWKS")
    if key.public is None:
        raise VerificationError("invalid-key", f"key {kid}: {key.problem}")
    problem = validity_problem(key, when)
    if problem is not None:
        raise VerificationError("key-not-valid", f"key {kid} was not valid for this document: {problem}")
    try:
        verify_signed_bytes(alg, signing_input, signature, key.public)
    except JwsError as exc:
        raise VerificationError(
            f"jws-{exc.code.replace('_', '-')}", f"the signature is invalid: {exc}"
        ) from None
    return key


def issuer_problem(payload: Mapping[str, Any], issuer: str | None) -> VerificationError | None:
    """:func:`verify_document`'s last check: the payload's ``issuer`` must be ``issuer`` (if given)."""
    if issuer is not None and payload.get("issuer") != issuer:
        return VerificationError(
            "issuer-mismatch", f"the payload's issuer {payload.get('issuer')!r} is not {issuer}"
        )
    return None


def _check_parsed(parsed: ParsedJws, keys: KeySet, when: datetime, issuer: str | None) -> _SnapshotKey:
    key = check_signature(
        parsed.kid, parsed.header.get("alg"), parsed.signing_input, parsed.signature, keys, when
    )
    problem = issuer_problem(parsed.payload, issuer)
    if problem is not None:
        raise problem
    return key


def log_verifier(log_vkey: str | NoteVerifier) -> NoteVerifier:
    """The note verifier of the log's key string ``<name>+<key id>+<base64 key>``."""
    if isinstance(log_vkey, NoteVerifier):
        return log_vkey
    try:
        return Verifier.from_vkey(log_vkey.strip())
    except NoteError as exc:
        raise VerificationError(
            "invalid-log-key", f"the log key is not an Ed25519 verifier key: {exc}"
        ) from None


def _receipt_fields(receipt: Receipt | Mapping[str, Any] | str) -> dict[str, Any]:
    if isinstance(receipt, Receipt):
        return receipt.model_dump(mode="json")
    if isinstance(receipt, Mapping):
        return dict(receipt)
    text = receipt.lstrip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            raise VerificationError("invalid-receipt", "the receipt is not valid JSON") from None
        if not isinstance(value, dict):
            raise VerificationError("invalid-receipt", "the receipt is not a JSON object")
        return value
    return {"proof": receipt}


def verify_receipt(
    receipt_or_proof_text: Receipt | Mapping[str, Any] | str,
    jws: str | bytes,
    log_vkey: str | NoteVerifier,
    *,
    integrated_time: datetime | str | None = None,
    origin: str | None = None,
    witnesses: Sequence[NoteVerifier] = (),
    witness_quorum: int = 0,
) -> Checkpoint:
    """Check that ``jws`` is in the log: its leaf is proven in a checkpoint signed by the log key.

    Takes a receipt (model, dict or JSON text: its ``proof``, ``integrated_time``, ``log_index``,
    ``leaf_hash`` and ``id`` are all checked) or the bare tlog-proof text with ``integrated_time``.
    Returns the checkpoint the entry is proven in.
    """
    fields = _receipt_fields(receipt_or_proof_text)
    proof_text = fields.get("proof")
    if not isinstance(proof_text, str):
        raise VerificationError("invalid-receipt", "the receipt has no tlog-proof text")
    try:
        when = parse_time(integrated_time if integrated_time is not None else fields.get("integrated_time"))
    except ValueError:
        raise VerificationError("invalid-receipt", "integrated_time is not an RFC 3339 UTC time") from None
    if when is None:
        raise VerificationError("invalid-receipt", "the integrated time is needed to rebuild the log entry")
    raw = jws.encode("ascii") if isinstance(jws, str) else jws
    leaf = entry_bytes(raw.strip(), when)
    leaf_hash = merkle.leaf_hash(leaf)
    try:
        parsed_proof = parse_tlog_proof(proof_text)
    except TlogProofError as exc:
        raise VerificationError("invalid-proof", f"the tlog-proof is malformed: {exc}") from None
    if "leaf_hash" in fields and str(fields["leaf_hash"]).lower() != leaf_hash.hex():
        raise VerificationError(
            "leaf-hash-mismatch", "the receipt's leaf_hash is not the hash of this JWS at its integrated time"
        )
    if "log_index" in fields and fields["log_index"] != parsed_proof.index:
        raise VerificationError(
            "index-mismatch", f"the receipt says index {fields['log_index']}, its proof {parsed_proof.index}"
        )
    if "id" in fields:
        document_id = _parse(raw).payload.get("id")
        if fields["id"] != document_id:
            raise VerificationError(
                "id-mismatch", f"the receipt is for {fields['id']}, the JWS is {document_id}"
            )
    try:
        return verify_tlog_proof(
            proof_text,
            leaf,
            log_verifier(log_vkey),
            origin=origin,
            witnesses=witnesses,
            witness_quorum=witness_quorum,
        )
    except NoteError as exc:
        raise VerificationError(
            "bad-checkpoint", f"the checkpoint is not signed by the log key: {exc}"
        ) from None
    except merkle.ProofError as exc:
        raise VerificationError("bad-inclusion-proof", f"the inclusion proof fails: {exc}") from None
    except (TlogProofError, CheckpointError) as exc:
        raise VerificationError("invalid-proof", str(exc)) from None


def _hashes(proof: ConsistencyProof | Mapping[str, Any] | Iterable[bytes | str]) -> list[bytes]:
    if isinstance(proof, ConsistencyProof):
        items: Iterable[bytes | str] = proof.hashes
    elif isinstance(proof, Mapping):
        items = proof.get("hashes", [])
    else:
        items = proof
    out = []
    for item in items:
        if isinstance(item, bytes):
            out.append(item)
            continue
        try:
            out.append(base64.b64decode(item, validate=True))
        except (binascii.Error, ValueError):
            raise VerificationError("invalid-proof", "a consistency proof hash is not base64") from None
    return out


def open_log_checkpoint(
    note_text: str, log_vkey: str | NoteVerifier, *, origin: str | None = None
) -> Checkpoint:
    """Open a checkpoint note that must carry a valid signature by the log key."""
    verifier = log_verifier(log_vkey)
    try:
        checkpoint, _ = open_checkpoint(note_text, [], origin=origin, required=[verifier])
    except NoteError as exc:
        raise VerificationError(
            "bad-checkpoint", f"the checkpoint is not signed by the log key: {exc}"
        ) from None
    except CheckpointError as exc:
        raise VerificationError("bad-checkpoint", f"the checkpoint is malformed: {exc}") from None
    return checkpoint


def verify_consistency(
    old_checkpoint_note: str,
    new_checkpoint_note: str,
    proof: ConsistencyProof | Mapping[str, Any] | Iterable[bytes | str],
    log_vkey: str | NoteVerifier,
) -> tuple[Checkpoint, Checkpoint]:
    """Check that the newer checkpoint extends the older one (RFC 9162 §2.1.4.2); both signed by the log.

    Two checkpoints of the same size must have the same root; a newer one that is smaller is
    refused. Returns ``(old, new)``.
    """
    old = open_log_checkpoint(old_checkpoint_note, log_vkey)
    new = open_log_checkpoint(new_checkpoint_note, log_vkey)
    if old.origin != new.origin:
        raise VerificationError(
            "origin-mismatch", f"the checkpoints are of two logs: {old.origin!r}, {new.origin!r}"
        )
    if new.size < old.size:
        raise VerificationError(
            "log-shrank",
            f"the newer checkpoint has {new.size} entries, fewer than the older one's {old.size}",
        )
    try:
        merkle.verify_consistency(old.size, new.size, _hashes(proof), old.root_hash, new.root_hash)
    except merkle.ProofError as exc:
        raise VerificationError(
            "inconsistent", f"checkpoint {new.size} does not extend checkpoint {old.size}: {exc}"
        ) from None
    return old, new
