"""C2SP tlog-checkpoint: note text format, strict parsing, opening a signed checkpoint."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from lnx_client.core.checkpoint import Checkpoint, CheckpointError, open_checkpoint, parse_checkpoint
from lnx_client.core.merkle import EMPTY_ROOT
from lnx_client.core.note import NoteError, Signer, sign_note

# The example of c2sp.org/tlog-checkpoint.
SPEC_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
ROOT = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")


def test_spec_example_round_trips() -> None:
    cp = parse_checkpoint(SPEC_TEXT)
    assert cp == Checkpoint("example.com/behind-the-sofa", 20852163, ROOT)
    assert cp.to_text() == SPEC_TEXT


def test_extensions_and_empty_tree() -> None:
    cp = Checkpoint("o", 0, EMPTY_ROOT, ("ext one", "ext two"))
    text = cp.to_text()
    assert text == f"o\n0\n{base64.b64encode(EMPTY_ROOT).decode()}\next one\next two\n"
    assert parse_checkpoint(text) == cp


@pytest.mark.parametrize(
    "text",
    [
        SPEC_TEXT.rstrip("\n"),  # no final newline
        "example.com/x\n5\n",  # missing root
        "\n5\n" + SPEC_TEXT.split("\n")[2] + "\n",  # empty origin
        SPEC_TEXT.replace("20852163", "020852163"),  # leading zero
        SPEC_TEXT.replace("20852163", "+20852163"),
        SPEC_TEXT.replace("20852163", "-1"),
        SPEC_TEXT.replace("20852163", " 20852163"),
        SPEC_TEXT.replace("20852163", "2085216\u0663"),  # non-ASCII digit
        SPEC_TEXT.replace("20852163", str(2**64)),  # does not fit uint64
        SPEC_TEXT.replace("=\n", "\n"),  # root without padding
        "o\n1\n" + base64.b64encode(b"\x00" * 31).decode() + "\n",  # 31-byte root
        SPEC_TEXT + "\n",  # empty extension line
    ],
)
def test_strict_parsing(text: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


def test_constructor_checks() -> None:
    for args in [("", 1, ROOT), ("a\nb", 1, ROOT), ("o", -1, ROOT), ("o", 2**64, ROOT), ("o", 1, b"x")]:
        with pytest.raises(CheckpointError):
            Checkpoint(*args)  # type: ignore[arg-type]
    with pytest.raises(CheckpointError):
        Checkpoint("o", 1, ROOT, ("",))


@settings(max_examples=100, deadline=None)
@given(
    st.text(st.characters(min_codepoint=0x20, codec="utf-8"), min_size=1, max_size=40),
    st.integers(0, 2**64 - 1),
    st.binary(min_size=32, max_size=32),
)
def test_round_trip_property(origin: str, size: int, root: bytes) -> None:
    cp = Checkpoint(origin, size, root)
    assert parse_checkpoint(cp.to_text()) == cp


def test_open_checkpoint_requires_the_log_signature() -> None:
    log = Signer("example.com/log", Ed25519PrivateKey.generate())
    other = Signer("witness.example", Ed25519PrivateKey.generate())
    cp = Checkpoint("example.com/log", 3, ROOT)
    note = sign_note(cp.to_text(), log)
    got, opened = open_checkpoint(note, [], origin="example.com/log", required=[log.verifier()])
    assert got == cp and opened.signatures[0].name == "example.com/log"
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(note, [], origin="example.com/other", required=[log.verifier()])
    only_other = sign_note(cp.to_text(), other)
    # verified by a known key, but not the one required: still not the log's checkpoint
    with pytest.raises(NoteError, match="not signed by example.com/log"):
        open_checkpoint(only_other, [other.verifier()], required=[log.verifier()])
    with pytest.raises(NoteError, match="not signed by any known key"):
        open_checkpoint(only_other, [], required=[log.verifier()])
    with pytest.raises(CheckpointError):
        open_checkpoint(sign_note("not\na checkpoint\n", log), [log.verifier()])
