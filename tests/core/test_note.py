"""C2SP signed-note: published vectors (spec example, Go sumdb/note) and the format's rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lnx_client.core.note import (
    MAX_SIGNATURES,
    NoteError,
    NoteSignature,
    NoteVerifier,
    Signer,
    Verifier,
    add_signatures,
    generate_signer,
    key_id,
    open_note,
    parse_signature_line,
    parse_vkey,
    sign_note,
    split_note,
)

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
VECTORS: list[dict[str, Any]] = json.loads((TESTDATA / "signed_note_vectors.json").read_text())["vectors"]
SPEC, GO = VECTORS
SIGNER = Signer.from_skey(GO["signer_key"])
PETER = Verifier.from_vkey(GO["vkey"])
ENOCH = Verifier.from_vkey(GO["other_vkey"])


# --------------------------------------------------------------------------- known answers


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"][:20])
def test_vectors_open(vector: dict[str, Any]) -> None:
    verifier = Verifier.from_vkey(vector["vkey"])
    assert verifier.vkey == vector["vkey"]
    name, hex_id, _ = vector["vkey"].split("+", 2)
    assert verifier.key_id.hex() == hex_id
    assert key_id(name, b"\x01" + verifier.public_key).hex() == hex_id
    opened = open_note(vector["note"], [verifier])
    assert opened.text == vector["text"]
    assert [s.name for s in opened.signatures] == [name]
    assert opened.signed_by(verifier) is not None
    # bytes in, same result
    assert open_note(vector["note"].encode(), [verifier]).text == vector["text"]


def test_go_note_with_two_signatures() -> None:
    opened = open_note(GO["note"], [PETER])
    assert [s.name for s in opened.unknown] == ["EnochRoot"]
    both = open_note(GO["note"], [PETER, ENOCH])
    assert [s.name for s in both.signatures] == ["PeterNeumann", "EnochRoot"]
    assert both.unknown == ()
    assert open_note(GO["note"], [ENOCH]).signatures[0].name == "EnochRoot"


def test_signer_key_round_trips_and_signs_like_go() -> None:
    assert SIGNER.skey == GO["signer_key"]
    assert SIGNER.vkey == GO["vkey"]
    # Ed25519 is deterministic: signing the text reproduces the published signature line.
    first_line = GO["note"].split("\n\u2014 EnochRoot")[0] + "\n"
    assert sign_note(GO["text"], SIGNER) == first_line


def test_add_signatures_keeps_existing_first() -> None:
    skey, vkey = generate_signer("example.com/second")
    second = Signer.from_skey(skey)
    note = add_signatures(sign_note(GO["text"], SIGNER), second)
    opened = open_note(note, [PETER, Verifier.from_vkey(vkey)])
    assert [s.name for s in opened.signatures] == ["PeterNeumann", "example.com/second"]
    # re-signing by the same key replaces rather than duplicates
    assert add_signatures(note, SIGNER).count("PeterNeumann") == 1
    # a ready-made signature line can be appended as is
    line = parse_signature_line(GO["note"].splitlines()[-1])
    assert open_note(add_signatures(note, line), [ENOCH]).signatures[0].name == "EnochRoot"


def test_generate_and_from_private_key() -> None:
    skey, vkey = generate_signer("lnx.example/log")
    assert skey.startswith("PRIVATE+KEY+lnx.example/log+")
    signer = Signer.from_skey(skey)
    assert signer.vkey == vkey and signer.verifier().vkey == vkey
    key = Ed25519PrivateKey.generate()
    assert Signer.from_private_key("n", key).vkey == Signer("n", key).vkey


# --------------------------------------------------------------------------- verification rules


def test_tampered_text_is_rejected() -> None:
    with pytest.raises(NoteError, match="invalid signature"):
        open_note(GO["note"].replace("answer", "Answer"), [PETER])


def test_unknown_signers_only_is_rejected() -> None:
    _, vkey = generate_signer("PeterNeumann")  # same name, different key ID
    with pytest.raises(NoteError, match="not signed by any known key"):
        open_note(GO["note"], [Verifier.from_vkey(vkey)])
    with pytest.raises(NoteError, match="not signed by any known key"):
        open_note(GO["note"], [])


def test_same_key_id_other_name_is_ignored() -> None:
    # A line naming another key with Peter's key ID must be ignored, not verified with Peter's key.
    sig = parse_signature_line(GO["note"].splitlines()[-2])
    forged = NoteSignature("Impostor", sig.key_id, b"\x00" * 64)
    note = add_signatures(GO["note"], forged)
    opened = open_note(note, [PETER])
    assert "Impostor" in [s.name for s in opened.unknown]


def test_bad_signature_by_known_key_rejects_even_with_a_good_one() -> None:
    bad = NoteSignature(ENOCH.name, ENOCH.key_id, b"\x01" * 64)
    note = add_signatures(sign_note(GO["text"], SIGNER), bad)
    with pytest.raises(NoteError, match="invalid signature by known key EnochRoot"):
        open_note(note, [PETER, ENOCH])
    assert open_note(note, [PETER]).signatures[0].name == "PeterNeumann"


def test_duplicate_signature_lines_are_recorded_once() -> None:
    note = GO["note"] + GO["note"].splitlines()[-2] + "\n"
    opened = open_note(note, [PETER])
    assert len(opened.signatures) == 1


def test_conflicting_verifiers_are_rejected() -> None:
    class Other(Verifier):
        pass

    open_note(GO["note"], [PETER, Verifier.from_vkey(GO["vkey"])])  # same key twice is fine
    with pytest.raises(NoteError, match="share"):
        open_note(GO["note"], [PETER, Other(PETER.name, PETER.public_key)])


def test_other_signature_types_plug_in() -> None:
    """The verifier abstraction is not tied to Ed25519 (type 0xff with a toy MAC)."""

    class MacVerifier(NoteVerifier):
        def __init__(self, name: str, secret: bytes) -> None:
            self.name, self.secret = name, secret
            self.key_id = key_id(name, b"\xff" + hashlib.sha256(secret).digest())

        def verify(self, text: bytes, signature: bytes) -> bool:
            return hmac.compare_digest(hmac.new(self.secret, text, "sha256").digest(), signature)

    mac = MacVerifier("mac.example", b"k")
    sig = NoteSignature(mac.name, mac.key_id, hmac.new(b"k", b"hi\n", "sha256").digest())
    assert open_note(sign_note("hi\n", sig), [mac]).signatures[0].name == "mac.example"


# --------------------------------------------------------------------------- format rules


def _line(name: str, payload: bytes) -> str:
    return f"\u2014 {name} {base64.b64encode(payload).decode()}\n"


GOOD_LINE = GO["note"].splitlines()[-2] + "\n"


@pytest.mark.parametrize(
    "note",
    [
        GO["text"] + GOOD_LINE,  # no blank line
        GO["text"] + "\n" + GOOD_LINE.rstrip("\n"),  # no final newline
        GO["text"] + "\n",  # no signatures
        GO["text"] + "\n\n",  # empty signature line
        "tab\there\n\n" + GOOD_LINE,  # control character in text
        "cr\r\n\n" + GOOD_LINE,
        GO["text"] + "\n" + GOOD_LINE.replace("\u2014", "-"),  # not an em dash
        GO["text"] + "\n" + GOOD_LINE.replace("\u2014 ", "\u2014"),
        GO["text"] + "\n" + _line("a+b", b"12345"),  # plus in name
        GO["text"] + "\n" + "\u2014 a\u00a0b " + "MTIzNDU=\n",  # Unicode space in name
        GO["text"] + "\n" + _line("", b"12345"),  # empty name
        GO["text"] + "\n" + _line("name", b"1234"),  # signature too short
        GO["text"] + "\n" + "\u2014 name MTIzNDU\n",  # missing padding
        GO["text"] + "\n" + "\u2014 name MTIzNDV=\n",  # non-canonical trailing bits
        GO["text"] + "\n" + "\u2014 name MTIz NDU=\n",  # space in base64
        GO["text"] + "\n" + "\u2014 name \n",  # empty base64
        GO["text"] + "\n" + "\u2014 \ud800 MTIzNDU=\n",  # lone surrogate
    ],
)
def test_malformed_notes_are_rejected(note: str) -> None:
    with pytest.raises(NoteError):
        open_note(note, [PETER])


def test_invalid_utf8_is_rejected() -> None:
    with pytest.raises(NoteError, match="UTF-8"):
        open_note(b"\xff\xfe\n\n" + GOOD_LINE.encode(), [PETER])


def test_signature_count_limit() -> None:
    filler = _line("filler", b"\x00" * 68)
    at_limit = GO["text"] + "\n" + GOOD_LINE + filler * (MAX_SIGNATURES - 1)
    assert open_note(at_limit, [PETER]).signatures
    with pytest.raises(NoteError, match="more than"):
        open_note(at_limit + filler, [PETER])
    with pytest.raises(NoteError, match="at most"):
        add_signatures(at_limit, Signer("extra", Ed25519PrivateKey.generate()))


def test_text_with_empty_lines_round_trips() -> None:
    for text in ["a\n\nb\n", "a\n\n", "\n", "\u2014 looks like a signature\n\n\u2014 x\n"]:
        note = sign_note(text, SIGNER)
        assert open_note(note, [PETER]).text == text
        assert split_note(note)[0] == text


def test_sign_note_rules() -> None:
    with pytest.raises(NoteError, match="newline"):
        sign_note("no newline", SIGNER)
    with pytest.raises(NoteError, match="control"):
        sign_note("a\x00b\n", SIGNER)
    with pytest.raises(NoteError, match="at least one"):
        sign_note("text\n")


# --------------------------------------------------------------------------- key strings


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a3",  # two parts
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key ID
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # short key ID
        "PeterNeumann+c74f20ag+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not hex
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # bad base64
        "PeterNeumann+c74f20a3+AQ==",  # too short
    ],
)
def test_bad_vkeys(vkey: str) -> None:
    with pytest.raises(NoteError):
        Verifier.from_vkey(vkey)


def test_vkey_of_another_type_is_not_an_ed25519_verifier() -> None:
    public = PETER.public_key
    name, kid, alg, key = parse_vkey(_vkey("w", b"\x04" + public))
    assert (name, alg, key) == ("w", 4, public) and kid == key_id("w", b"\x04" + public)
    with pytest.raises(NoteError, match="not Ed25519"):
        Verifier.from_vkey(_vkey("w", b"\x04" + public))


def _vkey(name: str, key: bytes) -> str:
    return f"{name}+{key_id(name, key).hex()}+{base64.b64encode(key).decode()}"


@pytest.mark.parametrize(
    "skey",
    [
        GO["signer_key"].replace("PRIVATE+KEY+", ""),
        GO["signer_key"].replace("c74f20a3", "c74f20a4"),
        GO["signer_key"].replace("PeterNeumann", "Peter"),  # key ID no longer matches
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AQ==",
        "PRIVATE+KEY+PeterNeumann+c74f20a3",
    ],
)
def test_bad_skeys(skey: str) -> None:
    with pytest.raises(NoteError):
        Signer.from_skey(skey)


def test_ready_made_signatures_are_checked() -> None:
    with pytest.raises(NoteError):
        sign_note("text\n", NoteSignature("bad name", b"\x00" * 4, b"\x01"))
    with pytest.raises(NoteError):
        sign_note("text\n", NoteSignature("name", b"\x00" * 3, b"\x01"))
