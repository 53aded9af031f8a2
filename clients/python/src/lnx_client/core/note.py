"""C2SP signed-note (https://c2sp.org/signed-note), compatible with golang.org/x/mod/sumdb/note.

A note is a UTF-8 text ending in a newline, a blank line, and one or more signature lines
``— <key name> base64(key ID || signature)``. A key is named by ``(name, key ID)`` with
``key ID = SHA-256(name || 0x0A || signature type || public key)[:4]``.

``NoteSigner`` / ``NoteVerifier`` are the abstraction every signature type plugs into; this
module implements Ed25519 (type 0x01, ``Signer`` / ``Verifier``) and ``cosignature`` adds the
timestamped witness cosignatures (type 0x04). Opening a note follows the spec's rules:
signatures by unknown keys are ignored, a bad signature by a known key rejects the note, and at
least one known key must have signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

__all__ = [
    "Ed25519KeyVerifier",
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "NoteError",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "OpenedNote",
    "Signer",
    "Verifier",
    "add_signatures",
    "b64decode_strict",
    "check_key_name",
    "format_vkey",
    "generate_signer",
    "key_id",
    "open_note",
    "parse_signature_line",
    "parse_vkey",
    "sign_note",
    "split_note",
]

ALG_ED25519 = 0x01
"""Signature type byte of plain Ed25519 note signatures (signed-note §Signature types)."""

MAX_SIGNATURES = 100
"""Most signature lines a note may carry (the spec asks for at least 16; Go's sumdb uses 100)."""

_SIG_PREFIX = "\u2014 "  # em dash, space
_PRIVATE_PREFIX = "PRIVATE+KEY+"


class NoteError(ValueError):
    """A note, key or signature is malformed, or a note does not verify."""


# --------------------------------------------------------------------------- keys and names


def key_id(name: str, key: bytes) -> bytes:
    """``SHA-256(name || 0x0A || key)[:4]``, ``key`` being the type byte followed by the public key."""
    return hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]


_NAME_REFUSED = re.compile(r"[\s+]")
"""A ``+`` or a Unicode space (``\\s`` is ``str.isspace``); names are checked with every receipt."""


def check_key_name(name: str) -> None:
    """Key names are non-empty, valid UTF-8, with no Unicode space and no ``+``."""
    if not name or _NAME_REFUSED.search(name):
        raise NoteError(f"invalid key name {name!r}")
    try:
        name.encode()
    except UnicodeEncodeError as exc:
        raise NoteError("key name is not valid UTF-8") from exc


def b64decode_strict(text: str, what: str = "base64") -> bytes:
    """Standard base64 (RFC 4648 §4) in its canonical padded form, or ``NoteError``."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise NoteError(f"invalid {what}") from exc
    if base64.b64encode(raw).decode() != text:
        raise NoteError(f"non-canonical {what}")
    return raw


def format_vkey(name: str, key: bytes) -> str:
    """Verifier key string ``<name>+<hex key ID>+<base64(type || public key)>``."""
    check_key_name(name)
    return f"{name}+{key_id(name, key).hex()}+{base64.b64encode(key).decode()}"


def parse_vkey(vkey: str) -> tuple[str, bytes, int, bytes]:
    """Split a verifier key string into ``(name, key ID, signature type, public key)``.

    Checks that the key ID matches the name and key, as golang.org/x/mod/sumdb/note does.
    """
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise NoteError("verifier key must be name+keyid+key")
    name, hex_id, b64 = parts
    check_key_name(name)
    if len(hex_id) != 8 or any(c not in "0123456789abcdefABCDEF" for c in hex_id):
        raise NoteError("verifier key ID must be 8 hex digits")
    key = b64decode_strict(b64, "verifier key")
    if len(key) < 2:
        raise NoteError("verifier key is too short")
    kid = bytes.fromhex(hex_id)
    if key_id(name, key) != kid:
        raise NoteError("verifier key ID does not match its name and key")
    return name, kid, key[0], key[1:]


def _raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


# --------------------------------------------------------------------------- abstractions


class NoteSigner(ABC):
    """Something that signs note text under a ``(name, key ID)``."""

    name: str
    key_id: bytes

    @abstractmethod
    def sign(self, text: bytes) -> bytes:
        """The signature bytes that follow the key ID in the signature line."""


class NoteVerifier(ABC):
    """Something that verifies signatures by one ``(name, key ID)``."""

    name: str
    key_id: bytes

    @abstractmethod
    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (the bytes after the key ID) is valid over the note ``text``."""

    def signature_timestamp(self, signature: bytes) -> int | None:
        """The time a signature type commits to (cosignatures), else ``None``."""
        return None


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes after the ID."""

    name: str
    key_id: bytes
    signature: bytes = field(repr=False)
    timestamp: int | None = field(default=None, compare=False)

    @property
    def line(self) -> str:
        """The signature line, without its final newline."""
        return f"{_SIG_PREFIX}{self.name} {base64.b64encode(self.key_id + self.signature).decode()}"


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A note whose signatures by known keys all verified."""

    text: str
    signatures: tuple[NoteSignature, ...]
    unknown: tuple[NoteSignature, ...]

    def signed_by(self, verifier: NoteVerifier) -> NoteSignature | None:
        """The verified signature of ``verifier``'s key, if any."""
        for sig in self.signatures:
            if (sig.name, sig.key_id) == (verifier.name, verifier.key_id):
                return sig
        return None


# --------------------------------------------------------------------------- Ed25519 (type 0x01)


class Signer(NoteSigner):
    """An Ed25519 note signer (signature type 0x01)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        check_key_name(name)
        self.name = name
        self._key = private_key
        self.public_key = _raw_public(private_key.public_key())
        self.key_id = key_id(name, bytes([ALG_ED25519]) + self.public_key)

    @classmethod
    def from_private_key(cls, name: str, private_key: Ed25519PrivateKey) -> Signer:
        """A signer for ``name`` with an existing key."""
        return cls(name, private_key)

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        """Parse ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>``."""
        if not skey.startswith(_PRIVATE_PREFIX):
            raise NoteError("signer key must start with PRIVATE+KEY+")
        parts = skey[len(_PRIVATE_PREFIX) :].split("+", 2)
        if len(parts) != 3:
            raise NoteError("signer key must be PRIVATE+KEY+name+keyid+key")
        name, hex_id, b64 = parts
        check_key_name(name)
        key = b64decode_strict(b64, "signer key")
        if len(key) != 33 or key[0] != ALG_ED25519:
            raise NoteError("signer key is not an Ed25519 seed")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(key[1:]))
        if hex_id.lower() != signer.key_id.hex() or len(hex_id) != 8:
            raise NoteError("signer key ID does not match its name and key")
        return signer

    @property
    def skey(self) -> str:
        """The private key string (keep it secret)."""
        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        b64 = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
        return f"{_PRIVATE_PREFIX}{self.name}+{self.key_id.hex()}+{b64}"

    @property
    def vkey(self) -> str:
        """The verifier key string of this signer."""
        return format_vkey(self.name, bytes([ALG_ED25519]) + self.public_key)

    def verifier(self) -> Verifier:
        """The matching verifier."""
        return Verifier(self.name, self.public_key)

    def sign(self, text: bytes) -> bytes:
        """Ed25519 (RFC 8032) signature over the note text."""
        return self._key.sign(text)


class Ed25519KeyVerifier(NoteVerifier):
    """A verifier holding a named Ed25519 public key of one signature type.

    Signed-note (0x01) and cosignature (0x04) keys differ only in the type byte that the key ID
    and the verifier key string carry, and in what ``verify`` checks; this class holds the rest.
    """

    SIGNATURE_TYPE: int = ALG_ED25519
    TYPE_NAME: str = "Ed25519"

    def __init__(self, name: str, public_key: bytes) -> None:
        check_key_name(name)
        if len(public_key) != 32:
            raise NoteError("Ed25519 public keys are 32 bytes")
        self.name = name
        self.public_key = bytes(public_key)
        self.key_id = key_id(name, bytes([self.SIGNATURE_TYPE]) + self.public_key)
        self._key = Ed25519PublicKey.from_public_bytes(self.public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> Self:
        """Parse ``<name>+<hex key ID>+<base64(type || public key)>`` of this class's type."""
        name, _, alg, public = parse_vkey(vkey)
        if alg != cls.SIGNATURE_TYPE:
            raise NoteError(
                f"verifier key has signature type {alg:#04x}, not {cls.TYPE_NAME} ({cls.SIGNATURE_TYPE:#04x})"
            )
        return cls(name, public)

    @property
    def vkey(self) -> str:
        """The verifier key string."""
        return format_vkey(self.name, bytes([self.SIGNATURE_TYPE]) + self.public_key)


class Verifier(Ed25519KeyVerifier):
    """An Ed25519 note verifier (signature type 0x01)."""

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Ed25519 verification of the note text."""
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, text)
        except InvalidSignature:
            return False
        return True


def generate_signer(name: str) -> tuple[str, str]:
    """A new Ed25519 key for ``name``: ``(private key string, verifier key string)``."""
    signer = Signer(name, Ed25519PrivateKey.generate())
    return signer.skey, signer.vkey


# --------------------------------------------------------------------------- format


_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
"""ASCII control characters but newline (a checkpoint is checked with every receipt: C speed)."""


def _check_text(text: str, what: str) -> None:
    """Valid UTF-8 (no lone surrogates) and no ASCII control character but newline."""
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        raise NoteError(f"{what} is not valid UTF-8") from exc
    if _CONTROL.search(text):
        raise NoteError(f"{what} contains a control character")


def _as_str(note: str | bytes) -> str:
    if isinstance(note, bytes | bytearray):
        try:
            return bytes(note).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("note is not valid UTF-8") from exc
    return note


def parse_signature_line(line: str) -> NoteSignature:
    """Parse ``— <name> <base64(key ID || signature)>`` (without the newline); not verified."""
    if not line.startswith(_SIG_PREFIX):
        raise NoteError("malformed signature line")
    name, sep, b64 = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep or not b64:
        raise NoteError("malformed signature line")
    check_key_name(name)
    raw = b64decode_strict(b64, "signature")
    if len(raw) < 5:
        raise NoteError("signature is too short")
    return NoteSignature(name, raw[:4], raw[4:])


def split_note(note: str | bytes) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and its (unverified) signatures, checking the format.

    The text ends at the last blank line and keeps its final newline (signed-note §Format).
    """
    msg = _as_str(note)
    _check_text(msg, "note")
    split = msg.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no signature block")
    text, block = msg[: split + 1], msg[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("note must end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return text, [parse_signature_line(line) for line in lines]


def _key_material(v: NoteVerifier) -> tuple[type, bytes | None]:
    return type(v), getattr(v, "public_key", None)


def _index_verifiers(verifiers: Iterable[NoteVerifier]) -> dict[tuple[str, bytes], NoteVerifier]:
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for v in verifiers:
        ident = (v.name, v.key_id)
        prev = known.setdefault(ident, v)
        if prev is not v and _key_material(prev) != _key_material(v):
            raise NoteError(f"two different keys share the name and key ID of {v.name}")
    return known


def open_note(note: str | bytes, verifiers: Iterable[NoteVerifier]) -> OpenedNote:
    """Verify a signed note against known keys (signed-note §Signatures).

    Signatures by unknown ``(name, key ID)`` pairs are ignored (kept in ``unknown``); every
    signature by a known key is verified and one failure rejects the note; ``NoteError`` is
    raised too when no known key signed.
    """
    known = _index_verifiers(verifiers)
    text, sigs = split_note(note)
    text_bytes = text.encode()
    verified: dict[tuple[str, bytes], NoteSignature] = {}
    unknown: dict[NoteSignature, None] = {}
    for sig in sigs:
        v = known.get((sig.name, sig.key_id))
        if v is None:
            unknown.setdefault(sig)
            continue
        if not v.verify(text_bytes, sig.signature):
            raise NoteError(f"invalid signature by known key {sig.name}")
        stamped = NoteSignature(sig.name, sig.key_id, sig.signature, v.signature_timestamp(sig.signature))
        verified.setdefault((sig.name, sig.key_id), stamped)
    if not verified:
        raise NoteError("note is not signed by any known key")
    return OpenedNote(text, tuple(verified.values()), tuple(unknown))


def _signature_from(signer: NoteSigner | NoteSignature, text: bytes) -> NoteSignature:
    if isinstance(signer, NoteSignature):
        sig = signer
    else:
        sig = NoteSignature(signer.name, signer.key_id, signer.sign(text))
    check_key_name(sig.name)
    if len(sig.key_id) != 4 or not sig.signature:
        raise NoteError("a signature needs a 4-byte key ID and a non-empty signature")
    return sig


def _assemble(text: str, signatures: Sequence[NoteSignature]) -> str:
    if not signatures:
        raise NoteError("a note needs at least one signature")
    if len(signatures) > MAX_SIGNATURES:
        raise NoteError(f"a note carries at most {MAX_SIGNATURES} signatures")
    return text + "\n" + "".join(sig.line + "\n" for sig in signatures)


def sign_note(text: str, *signers: NoteSigner | NoteSignature) -> str:
    """Sign ``text`` (must end in a newline) with each signer, in order.

    A ready-made ``NoteSignature`` (e.g. a cosignature received from a witness) is appended as is.
    """
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    _check_text(text, "note text")
    raw = text.encode()
    return _assemble(text, [_signature_from(s, raw) for s in signers])


def add_signatures(note: str | bytes, *signers: NoteSigner | NoteSignature) -> str:
    """Add signatures to a signed note, keeping existing ones first.

    An existing signature by the same ``(name, key ID)`` as a new one is replaced (as Go's
    ``note.Sign`` does). Existing signatures are not verified here: open the result to check.
    """
    text, existing = split_note(note)
    raw = text.encode()
    new = [_signature_from(s, raw) for s in signers]
    replaced = {(s.name, s.key_id) for s in new}
    kept = [s for s in existing if (s.name, s.key_id) not in replaced]
    return _assemble(text, kept + new)
