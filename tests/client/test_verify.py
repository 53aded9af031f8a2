"""Offline verifiers: each accepts what is genuine and refuses every tampered input, naming why."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from lnx_client import KeySet, VerificationError, verify_consistency, verify_document, verify_receipt
from lnx_client.core import note

from tests.client.offline_log import ORIGIN, OfflineLog


@pytest.fixture(scope="module")
def log() -> OfflineLog:
    return OfflineLog(size=7)


def flip_b64url(token: str, position: int) -> str:
    """Change one character of a base64url segment to another letter (keeps the encoding canonical)."""
    chars = list(token)
    chars[position] = "B" if chars[position] != "B" else "C"
    return "".join(chars)


def flip_proof_hash(proof: str) -> str:
    lines = proof.split("\n")
    index = next(i for i, line in enumerate(lines) if line.startswith("index ")) + 1
    raw = bytearray(base64.b64decode(lines[index]))
    raw[0] ^= 0x01
    lines[index] = base64.b64encode(bytes(raw)).decode()
    return "\n".join(lines)


# ---------------------------------------------------------------- verify_document


def test_document_verifies_at_integration_time(log: OfflineLog) -> None:
    result = verify_document(log.jws[2], log.jwks(), at=log.times[2], issuer="IND")
    assert result.payload["id"] == "IND-2026-0003"
    assert result.kid == log.private_jwk["kid"]


def test_document_with_a_flipped_signature_byte_fails(log: OfflineLog) -> None:
    jws = log.jws[0]
    tampered = flip_b64url(jws, len(jws) - 10)
    with pytest.raises(VerificationError) as info:
        verify_document(tampered, log.jwks(), at=log.times[0])
    assert info.value.code == "jws-bad-signature"


def test_document_with_a_flipped_payload_byte_fails(log: OfflineLog) -> None:
    jws = log.jws[0]
    header_end = jws.index(".")
    tampered = flip_b64url(jws, header_end + 20)
    with pytest.raises(VerificationError) as info:
        verify_document(tampered, log.jwks(), at=log.times[0])
    assert info.value.code in {"jws-bad-signature", "jws-invalid-json", "jws-not-utf8"}


def test_document_with_an_unknown_key_fails(log: OfflineLog) -> None:
    other = OfflineLog(size=1)
    with pytest.raises(VerificationError) as info:
        verify_document(log.jws[0], other.jwks(), at=log.times[0])
    assert info.value.code == "unknown-kid"


def test_key_revoked_before_integration_fails(log: OfflineLog) -> None:
    revoked = log.jwks(revoked_at=log.times[3] - timedelta(seconds=1))
    with pytest.raises(VerificationError) as info:
        verify_document(log.jws[3], revoked, at=log.times[3])
    assert info.value.code == "key-not-valid"
    assert "revoked" in info.value.message


def test_key_revoked_after_integration_still_verifies(log: OfflineLog) -> None:
    """Contract §1: a document signed and logged before a revocation stays valid."""
    revoked = log.jwks(revoked_at=log.times[3] + timedelta(seconds=1))
    verify_document(log.jws[3], revoked, at=log.times[3])
    with pytest.raises(VerificationError):
        verify_document(log.jws[4], revoked, at=log.times[4])


def test_key_not_yet_valid_or_expired_fails(log: OfflineLog) -> None:
    with pytest.raises(VerificationError, match="not valid before"):
        verify_document(log.jws[0], log.jwks(not_before=log.times[0] + timedelta(hours=1)), at=log.times[0])
    with pytest.raises(VerificationError, match="expired"):
        verify_document(log.jws[0], log.jwks(not_after=log.times[0]), at=log.times[0])


def test_issuer_must_match(log: OfflineLog) -> None:
    with pytest.raises(VerificationError) as info:
        verify_document(log.jws[0], log.jwks(), at=log.times[0], issuer="PAK")
    assert info.value.code == "issuer-mismatch"


# ---------------------------------------------------------------- verify_receipt


def test_receipt_verifies(log: OfflineLog) -> None:
    for index in range(log.size):
        checkpoint = verify_receipt(log.receipt(index), log.jws[index], log.vkey)
        assert (checkpoint.origin, checkpoint.size) == (ORIGIN, log.size)


def test_receipt_as_json_text_and_bare_proof(log: OfflineLog) -> None:
    receipt = log.receipt(4)
    verify_receipt(json.dumps(receipt), log.jws[4], log.vkey)
    verify_receipt(receipt["proof"], log.jws[4], log.vkey, integrated_time=receipt["integrated_time"])
    with pytest.raises(VerificationError, match="integrated time"):
        verify_receipt(receipt["proof"], log.jws[4], log.vkey)


def test_receipt_with_a_flipped_proof_byte_fails(log: OfflineLog) -> None:
    receipt = log.receipt(2)
    receipt["proof"] = flip_proof_hash(receipt["proof"])
    with pytest.raises(VerificationError) as info:
        verify_receipt(receipt, log.jws[2], log.vkey)
    assert info.value.code == "bad-inclusion-proof"


def test_receipt_for_another_document_fails(log: OfflineLog) -> None:
    receipt = log.receipt(2)
    with pytest.raises(VerificationError) as info:
        verify_receipt(
            {"proof": receipt["proof"], "integrated_time": receipt["integrated_time"]}, log.jws[3], log.vkey
        )
    assert info.value.code == "bad-inclusion-proof"
    with pytest.raises(VerificationError) as info:
        verify_receipt(receipt, log.jws[3], log.vkey)
    assert info.value.code == "leaf-hash-mismatch"


def test_receipt_with_a_wrong_integrated_time_fails(log: OfflineLog) -> None:
    receipt = log.receipt(2)
    receipt.pop("leaf_hash")
    receipt["integrated_time"] = "2026-03-01T06:03:00.000001Z"
    with pytest.raises(VerificationError) as info:
        verify_receipt(receipt, log.jws[2], log.vkey)
    assert info.value.code == "bad-inclusion-proof"


def test_receipt_with_a_tampered_checkpoint_fails(log: OfflineLog) -> None:
    receipt = log.receipt(1)
    proof = receipt["proof"]
    head, _, checkpoint_note = proof.partition("\n\n")
    lines = checkpoint_note.split("\n")
    lines[1] = str(log.size + 1)  # claim a bigger tree under the same signature
    receipt["proof"] = head + "\n\n" + "\n".join(lines)
    with pytest.raises(VerificationError) as info:
        verify_receipt(receipt, log.jws[1], log.vkey)
    assert info.value.code == "bad-checkpoint"


def test_receipt_against_the_wrong_log_key_fails(log: OfflineLog) -> None:
    _, other_vkey = note.generate_signer(ORIGIN)
    with pytest.raises(VerificationError) as info:
        verify_receipt(log.receipt(0), log.jws[0], other_vkey)
    assert info.value.code == "bad-checkpoint"
    with pytest.raises(VerificationError) as info:
        verify_receipt(log.receipt(0), log.jws[0], "not a key")
    assert info.value.code == "invalid-log-key"


def test_receipt_with_a_mismatched_index_or_id_fails(log: OfflineLog) -> None:
    receipt = log.receipt(0)
    with pytest.raises(VerificationError) as info:
        verify_receipt({**receipt, "log_index": 5}, log.jws[0], log.vkey)
    assert info.value.code == "index-mismatch"
    with pytest.raises(VerificationError) as info:
        verify_receipt({**receipt, "id": "IND-2026-0099"}, log.jws[0], log.vkey)
    assert info.value.code == "id-mismatch"


# ---------------------------------------------------------------- verify_consistency


def test_consistency_verifies(log: OfflineLog) -> None:
    for first in range(0, log.size + 1):
        old, new = verify_consistency(
            log.checkpoint(first), log.checkpoint(), log.consistency(first, log.size), log.vkey
        )
        assert (old.size, new.size) == (first, log.size)


def test_consistency_with_a_flipped_proof_byte_fails(log: OfflineLog) -> None:
    proof = log.consistency(3, log.size)
    raw = bytearray(base64.b64decode(proof[0]))
    raw[5] ^= 0x80
    proof[0] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(VerificationError) as info:
        verify_consistency(log.checkpoint(3), log.checkpoint(), proof, log.vkey)
    assert info.value.code == "inconsistent"


def test_consistency_with_a_forked_checkpoint_fails(log: OfflineLog) -> None:
    """A checkpoint of the same size with another root, validly signed: a split view."""
    fork = OfflineLog(size=log.size)
    fork.log_signer = log.log_signer  # the same log key signs a different tree
    with pytest.raises(VerificationError) as info:
        verify_consistency(log.checkpoint(), fork.checkpoint(), [], log.vkey)
    assert info.value.code == "inconsistent"
    with pytest.raises(VerificationError) as info:
        verify_consistency(log.checkpoint(4), fork.checkpoint(), fork.consistency(4, log.size), log.vkey)
    assert info.value.code == "inconsistent"


def test_consistency_refuses_a_shrinking_log_and_foreign_signatures(log: OfflineLog) -> None:
    with pytest.raises(VerificationError) as info:
        verify_consistency(log.checkpoint(), log.checkpoint(3), [], log.vkey)
    assert info.value.code == "log-shrank"
    other = OfflineLog(size=log.size)
    with pytest.raises(VerificationError) as info:
        verify_consistency(log.checkpoint(3), other.checkpoint(), log.consistency(3, log.size), log.vkey)
    assert info.value.code == "bad-checkpoint"


def test_a_key_set_is_parsed_once_and_reused(log: OfflineLog) -> None:
    keys = KeySet(log.jwks())
    assert len(keys) == 1
    for index in range(log.size):
        assert verify_document(log.jws[index], keys, at=log.times[index]).kid == log.private_jwk["kid"]
    broken = log.jwks()
    broken["keys"][0]["x"] = broken["keys"][0]["x"][:-2]  # no longer a 32-byte key
    with pytest.raises(VerificationError) as info:
        verify_document(log.jws[0], KeySet(broken), at=log.times[0])
    assert info.value.code == "invalid-key"
