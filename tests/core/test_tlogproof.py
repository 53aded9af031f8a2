"""C2SP tlog-proof: the offline proof format, end to end with a log, checkpoint and witnesses."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lnx_client.core.checkpoint import Checkpoint, CheckpointError
from lnx_client.core.cosignature import CosignatureSigner, cosign
from lnx_client.core.entry import entry_bytes
from lnx_client.core.merkle import CompactRange, NodeID, ProofError, inclusion_proof, leaf_hash
from lnx_client.core.note import NoteError, Signer, add_signatures, parse_signature_line, sign_note
from lnx_client.core.tlogproof import (
    HEADER,
    TlogProof,
    TlogProofError,
    format_tlog_proof,
    format_tlog_proofs,
    parse_tlog_proof,
    verify_tlog_proof,
)

ORIGIN = "lnx.example/log"
LOG = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x07" * 32))
W1 = CosignatureSigner("w1.example", Ed25519PrivateKey.from_private_bytes(b"\x08" * 32))
W2 = CosignatureSigner("w2.example", Ed25519PrivateKey.from_private_bytes(b"\x09" * 32))
T0 = datetime(2026, 11, 29, 1, 2, 3, tzinfo=UTC)
ENTRIES = [entry_bytes(b"jws-%d" % i, T0 + timedelta(seconds=i)) for i in range(21)]

_rng = CompactRange()
_store: dict[NodeID, bytes] = {}
for _e in ENTRIES:
    _store.update(_rng.append(leaf_hash(_e)))
CHECKPOINT = Checkpoint(ORIGIN, _rng.size, _rng.root())
NOTE = sign_note(CHECKPOINT.to_text(), LOG)
WITNESSED = add_signatures(
    NOTE, parse_signature_line(cosign(CHECKPOINT.to_text(), W1, 1_800_000_000).rstrip("\n"))
)


def proof_for(index: int, note: str = NOTE, extra: bytes | None = None) -> str:
    proof = inclusion_proof(index, CHECKPOINT.size, lambda ids: [_store[i] for i in ids])
    return format_tlog_proof(index, proof, note, extra)


def test_layout() -> None:
    text = proof_for(13, extra=b"context")
    lines = text.split("\n")
    assert lines[0] == HEADER
    assert lines[1] == "extra " + base64.b64encode(b"context").decode()
    assert lines[2] == "index 13"
    n = len(inclusion_proof(13, CHECKPOINT.size, lambda ids: [_store[i] for i in ids]))
    assert all(len(base64.b64decode(h)) == 32 for h in lines[3 : 3 + n])
    assert lines[3 + n] == ""
    assert text.endswith("\n\n" + NOTE)


def test_round_trip() -> None:
    text = proof_for(5, extra=b"")
    parsed = parse_tlog_proof(text)
    assert parsed == TlogProof(5, parsed.proof, NOTE, b"")
    assert format_tlog_proof(parsed.index, parsed.proof, parsed.checkpoint_note, parsed.extra) == text
    assert parse_tlog_proof(proof_for(0)).extra is None


@pytest.mark.parametrize("index", range(len(ENTRIES)))
def test_every_entry_verifies(index: int) -> None:
    cp = verify_tlog_proof(proof_for(index), ENTRIES[index], LOG.verifier(), origin=ORIGIN)
    assert cp == CHECKPOINT


def test_wrong_data_or_index_fails() -> None:
    with pytest.raises(ProofError):
        verify_tlog_proof(proof_for(3), ENTRIES[4], LOG.verifier())
    forged = proof_for(3).replace("index 3\n", "index 4\n")
    with pytest.raises(ProofError):
        verify_tlog_proof(forged, ENTRIES[3], LOG.verifier())


def test_tampered_proof_hash_fails() -> None:
    parsed = parse_tlog_proof(proof_for(7))
    bad = bytearray(parsed.proof[1])
    bad[0] ^= 1
    proof = (parsed.proof[0], bytes(bad), *parsed.proof[2:])
    with pytest.raises(ProofError):
        verify_tlog_proof(format_tlog_proof(7, proof, NOTE), ENTRIES[7], LOG.verifier())


def test_wrong_log_key_or_origin_fails() -> None:
    other = Signer(ORIGIN, Ed25519PrivateKey.generate())
    with pytest.raises(NoteError):
        verify_tlog_proof(proof_for(1), ENTRIES[1], other.verifier())
    with pytest.raises(CheckpointError):
        verify_tlog_proof(proof_for(1), ENTRIES[1], LOG.verifier(), origin="other.example/log")
    # a note signed only by a witness is not the log's checkpoint
    only_witness = sign_note(CHECKPOINT.to_text(), W1)
    with pytest.raises(NoteError):
        verify_tlog_proof(proof_for(1, only_witness), ENTRIES[1], LOG.verifier(), witnesses=[W1.verifier()])


def test_witness_quorum() -> None:
    text = proof_for(2, WITNESSED)
    witnesses = [W1.verifier(), W2.verifier()]
    verify_tlog_proof(text, ENTRIES[2], LOG.verifier(), witnesses=witnesses, witness_quorum=1)
    verify_tlog_proof(text, ENTRIES[2], LOG.verifier())  # cosignatures by unknown keys are ignored
    with pytest.raises(TlogProofError, match="1 of the 2"):
        verify_tlog_proof(text, ENTRIES[2], LOG.verifier(), witnesses=witnesses, witness_quorum=2)
    with pytest.raises(TlogProofError, match="0 of the 1"):
        verify_tlog_proof(proof_for(2), ENTRIES[2], LOG.verifier(), witnesses=witnesses, witness_quorum=1)


GOOD = proof_for(9)
HASH_LINE = GOOD.split("\n")[2]


@pytest.mark.parametrize(
    "text",
    [
        GOOD.replace(HEADER, "c2sp.org/tlog-proof@v2"),
        GOOD.replace("index 9", "index 09"),
        GOOD.replace("index 9", "index  9"),
        GOOD.replace("index 9", "index -9"),
        GOOD.replace("index 9\n", ""),  # no index line
        GOOD.replace("index 9\n", "index 9\nextra AA==\n"),  # extra after index
        GOOD.replace(HASH_LINE, HASH_LINE.rstrip("=")),  # unpadded base64
        GOOD.replace(HASH_LINE, base64.b64encode(b"\x00" * 31).decode()),  # 31-byte hash
        GOOD.split("\n\n")[0],  # no checkpoint
        GOOD.replace("\n\n", "\n", 1),  # no empty line
        GOOD.replace("\u2014", "-"),  # malformed note
        HEADER + "\nextra !!\nindex 0\n\n" + NOTE,  # invalid extra
    ],
)
def test_malformed_proofs_are_rejected(text: str) -> None:
    with pytest.raises(TlogProofError):
        parse_tlog_proof(text)


def test_format_checks_arguments() -> None:
    with pytest.raises(TlogProofError):
        format_tlog_proof(-1, [], NOTE)
    with pytest.raises(TlogProofError):
        format_tlog_proof(0, [b"short"], NOTE)
    with pytest.raises(NoteError):
        format_tlog_proof(0, [], "not a note\n")


def test_several_proofs_against_one_checkpoint_are_each_the_single_proof() -> None:
    indexes = [0, 7, 13, 20]
    entries = [
        (i, inclusion_proof(i, CHECKPOINT.size, lambda ids: [_store[n] for n in ids])) for i in indexes
    ]

    texts = format_tlog_proofs(entries, NOTE, b"ctx")

    assert texts == [proof_for(i, extra=b"ctx") for i in indexes]
    for index, text in zip(indexes, texts, strict=True):
        assert verify_tlog_proof(text, ENTRIES[index], LOG.verifier(), origin=ORIGIN) == CHECKPOINT
    assert format_tlog_proofs([], NOTE) == []
    with pytest.raises(NoteError):
        format_tlog_proofs([], "not a note\n")
    with pytest.raises(TlogProofError):
        format_tlog_proofs([entries[0], (-1, [])], NOTE)
