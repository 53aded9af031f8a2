"""C2SP tlog-cosignature: type 0x04 keys, the signed message, timestamps, use in open_note."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from lnx_client.core.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from lnx_client.core.cosignature import (
    MAX_TIMESTAMP,
    CosignatureSigner,
    CosignatureVerifier,
    cosign,
    cosigned_message,
)
from lnx_client.core.note import (
    NoteError,
    Signer,
    Verifier,
    add_signatures,
    open_note,
    parse_signature_line,
    sign_note,
)

SEED = bytes(range(32))
WITNESS = CosignatureSigner("witness.example.com/w1", Ed25519PrivateKey.from_private_bytes(SEED))
LOG = Signer("example.com/behind-the-sofa", Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))))
BODY = Checkpoint(
    "example.com/behind-the-sofa", 20852163, base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
).to_text()


def test_spec_example_signature_line_layout() -> None:
    # The cosignature line of the c2sp.org/tlog-cosignature example: key ID, then the uint64
    # timestamp 1679315147 (the "time" line of the spec's signed-message example), then 64 bytes.
    line = (
        "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2"
        "oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
    )
    sig = parse_signature_line(line)
    assert sig.key_id.hex() == "8d66cf3f" and len(sig.signature) == 72
    assert CosignatureVerifier("w", b"\x00" * 32).signature_timestamp(sig.signature) == 1679315147


def test_signed_message_matches_the_spec() -> None:
    assert cosigned_message(BODY.encode(), 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n"
        b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    with pytest.raises(ValueError):
        cosigned_message(b"x\n", MAX_TIMESTAMP + 1)


def test_key_id_and_vkey_use_type_0x04() -> None:
    public = WITNESS.public_key
    assert WITNESS.key_id == hashlib.sha256(b"witness.example.com/w1\n\x04" + public).digest()[:4]
    vkey = WITNESS.vkey
    material = base64.b64encode(b"\x04" + public).decode()
    assert vkey == f"witness.example.com/w1+{WITNESS.key_id.hex()}+{material}"
    assert CosignatureVerifier.from_vkey(vkey).vkey == vkey
    with pytest.raises(NoteError, match="not Ed25519"):
        Verifier.from_vkey(vkey)
    with pytest.raises(NoteError, match="not a cosignature"):
        CosignatureVerifier.from_vkey(LOG.vkey)


def test_cosign_produces_a_verifiable_line_with_timestamp() -> None:
    line = cosign(BODY, WITNESS, 1679315147)
    assert line.endswith("\n")
    sig = parse_signature_line(line.rstrip("\n"))
    raw = sig.signature
    assert sig.key_id == WITNESS.key_id and int.from_bytes(raw[:8], "big") == 1679315147
    # independent check of the Ed25519 signature over the documented message
    public = (
        Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    Ed25519PublicKey.from_public_bytes(public).verify(raw[8:], cosigned_message(BODY.encode(), 1679315147))

    note = add_signatures(sign_note(BODY, LOG), sig)
    opened = open_note(note, [LOG.verifier(), WITNESS.verifier()])
    cosig = opened.signed_by(WITNESS.verifier())
    assert cosig is not None and cosig.timestamp == 1679315147
    log_sig = opened.signed_by(LOG.verifier())
    assert log_sig is not None and log_sig.timestamp is None
    cp, _ = open_checkpoint(note, [WITNESS.verifier()], required=[LOG.verifier()])
    assert cp.size == 20852163


def test_sign_uses_the_clock() -> None:
    signer = CosignatureSigner("w", Ed25519PrivateKey.generate(), clock=lambda: 1700000000.9)
    note = sign_note(BODY, signer)
    assert open_note(note, [signer.verifier()]).signatures[0].timestamp == 1700000000


def test_wrong_timestamp_or_body_fails() -> None:
    sig = parse_signature_line(cosign(BODY, WITNESS, 1000).rstrip("\n"))
    v = WITNESS.verifier()
    assert v.verify(BODY.encode(), sig.signature)
    tampered_time = (1001).to_bytes(8, "big") + sig.signature[8:]
    assert not v.verify(BODY.encode(), tampered_time)
    assert not v.verify(BODY.replace("20852163", "20852164").encode(), sig.signature)
    assert not v.verify(BODY.encode(), sig.signature[:-1])
    too_late = (2**63).to_bytes(8, "big") + sig.signature[8:]
    assert not v.verify(BODY.encode(), too_late)
    note = add_signatures(
        sign_note(BODY, LOG),
        parse_signature_line(
            f"\u2014 {WITNESS.name} {base64.b64encode(WITNESS.key_id + tampered_time).decode()}"
        ),
    )
    with pytest.raises(NoteError, match="invalid signature"):
        open_note(note, [LOG.verifier(), v])


def test_an_ed25519_signature_is_not_a_cosignature() -> None:
    # Same key and name used as type 0x01 gives a different key ID: never confused.
    plain = Signer(WITNESS.name, Ed25519PrivateKey.from_private_bytes(SEED))
    assert plain.key_id != WITNESS.key_id
    with pytest.raises(NoteError, match="not signed by any known key"):
        open_note(sign_note(BODY, plain), [WITNESS.verifier()])


def test_cosign_only_checkpoints() -> None:
    with pytest.raises(CheckpointError):
        cosign("hello\n", WITNESS, 1)
