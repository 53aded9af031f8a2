"""Signing keys as JSON Web Keys: parsing, thumbprints, generation (pure: stdlib + ``cryptography``).

Contract (CONTRACT.md §1): a participant's signing key is a public JWK (RFC 7517) of exactly one
of two families, and its ``kid`` is its RFC 7638 SHA-256 thumbprint.

* ``Ed25519`` -- ``{"kty": "OKP", "crv": "Ed25519", "x"}`` (RFC 8037 §2); JWS algorithms
  ``Ed25519`` (RFC 9864 §2.2) and its older, polymorphic name ``EdDSA`` (RFC 8037 §3.1).
* ``P-256`` -- ``{"kty": "EC", "crv": "P-256", "x", "y"}`` (RFC 7518 §6.2.1); JWS algorithm
  ``ES256`` (RFC 7518 §3.4). The point must lie on the curve.

Everything else is refused with a :class:`JwkError` carrying a stable ``code`` and the offending
member in ``field``: RSA and ``oct`` (symmetric) keys, other curves, and any private member
(``d``, ``p``, ``q``, ``dp``, ``dq``, ``qi``, ``oth``, ``k``) -- a private key sent to be
*registered* has leaked and must not be stored. Unknown public members are ignored as
RFC 7517 §4 requires, and dropped by :meth:`PublicJwk.to_dict`; ``use``, ``key_ops``, ``alg``
and ``kid``, when present, must agree with what the key is used for here.

Base64url (RFC 7515 §2 / RFC 4648 §5) is decoded strictly: no padding, no characters outside the
URL-safe alphabet, and the text must be the one canonical encoding of its bytes (zero trailing
bits), so that one key or token has exactly one spelling.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

__all__ = [
    "ED25519",
    "P256",
    "JwkError",
    "KeyFamily",
    "PrivateJwk",
    "PublicJwk",
    "b64url_decode",
    "b64url_encode",
    "ecdsa_der_to_raw",
    "ecdsa_raw_to_der",
    "generate_private_jwk",
    "load_private_jwk",
    "parse_public_jwk",
    "public_jwk_from_private",
    "thumbprint",
]

KeyFamily = Literal["Ed25519", "P-256"]
ED25519: KeyFamily = "Ed25519"
P256: KeyFamily = "P-256"

#: JWS algorithms each family may sign with (the key pins the algorithm, CONTRACT.md §2).
_ALLOWED_ALGS: dict[str, frozenset[str]] = {
    ED25519: frozenset({"Ed25519", "EdDSA"}),
    P256: frozenset({"ES256"}),
}
#: Private members of any key type (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2).
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
#: Members hashed by the RFC 7638 §3.2 thumbprint, per key type.
_THUMBPRINT_MEMBERS: dict[str, tuple[str, ...]] = {
    "OKP": ("crv", "kty", "x"),
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "oct": ("k", "kty"),
}
_COORDINATE_BYTES = 32  # Ed25519 public key (RFC 8032 §5.1.5) and P-256 coordinates (RFC 7518 §6.2.1.2)
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")


class JwkError(ValueError):
    """A JWK was refused. ``code`` is stable (for problem documents), ``field`` names the member."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"JwkError(code={self.code!r}, message={self.message!r}, field={self.field!r})"


# --- base64url (RFC 7515 §2, RFC 4648 §5) -------------------------------------------------------


def b64url_encode(data: bytes) -> str:
    """Base64url without padding, as RFC 7515 §2 defines it for JOSE."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes) -> bytes:
    """Decode base64url strictly; raise ``ValueError`` unless ``text`` is the canonical encoding.

    Refused: padding (``=``), characters outside ``A-Z a-z 0-9 - _``, an impossible length
    (``len % 4 == 1``) and non-zero trailing bits (RFC 4648 §3.5), i.e. anything whose re-encoding
    differs from the input.
    """
    if type(text) is bytes:  # the common case (JWS segments), decoded at once when canonical
        data = _canonical_b64url_bytes(text)
        if data is not None:
            return data
    if isinstance(text, bytes):
        if not text.isascii():
            raise ValueError("base64url text must be ASCII")
        raw = text
        alphabet_ok = _B64URL_BYTES_RE.fullmatch(raw) is not None
    else:
        alphabet_ok = _B64URL_RE.fullmatch(text) is not None
        raw = text.encode("ascii") if alphabet_ok else b""
    if not alphabet_ok:
        raise ValueError("base64url text has characters outside the URL-safe alphabet or padding")
    tail = len(raw) % 4
    if tail == 1:
        raise ValueError("base64url text has an impossible length")
    # Only alphabet characters and the right padding reach the decoder, so it decodes exactly.
    data = binascii.a2b_base64(raw.translate(_URLSAFE_TO_STANDARD) + _PADDING[tail])
    # The one canonical spelling has zero trailing bits: 4 after a last quantum of 2 characters
    # (one byte), 2 after one of 3 (two bytes). Equivalent to re-encoding and comparing.
    if tail and _B64URL_VALUES[raw[-1]] & _TRAILING_BITS[tail]:
        raise ValueError("base64url text is not canonical (non-zero trailing bits)")
    return data


def _canonical_b64url_bytes(raw: bytes) -> bytes | None:
    """The bytes of canonical base64url ``raw``, or ``None`` to let the general path decide (and
    say why): only URL-safe alphabet characters (then, translated to the standard alphabet and
    padded, the decoder reads exactly them), a possible length, zero trailing bits."""
    tail = len(raw) % 4
    if tail == 1 or raw.translate(None, _B64URL_ALPHABET):  # something outside the alphabet
        return None
    data = binascii.a2b_base64(raw.translate(_URLSAFE_TO_STANDARD) + _PADDING[tail])
    if tail and _B64URL_VALUES[raw[-1]] & _TRAILING_BITS[tail]:
        return None
    return data


_B64URL_BYTES_RE = re.compile(rb"[A-Za-z0-9_-]*")
_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")
_TRAILING_BITS = (0, 0, 0x0F, 0x03)
_B64URL_VALUES = {char: value for value, char in enumerate(_B64URL_ALPHABET)}


# --- ECDSA signature encodings (RFC 7518 §3.4) --------------------------------------------------


def ecdsa_der_to_raw(der: bytes, size: int = _COORDINATE_BYTES) -> bytes:
    """DER ``ECDSA-Sig-Value`` (what ``cryptography``, HSMs and KMSs return) -> JWS ``R || S``."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def ecdsa_raw_to_der(raw: bytes, size: int = _COORDINATE_BYTES) -> bytes:
    """JWS ``R || S`` (exactly ``2 * size`` bytes, RFC 7518 §3.4) -> DER for ``cryptography``."""
    if len(raw) != 2 * size:
        raise ValueError(f"an ES256 signature is exactly {2 * size} bytes")
    return encode_dss_signature(int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big"))


# --- public keys --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicJwk:
    """A validated public signing key. ``kid`` is its RFC 7638 thumbprint."""

    kty: str
    crv: str
    x: str
    y: str | None
    kid: str
    family: KeyFamily
    allowed_algs: frozenset[str]
    public_key: Ed25519PublicKey | ec.EllipticCurvePublicKey = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, str]:
        """The public members (RFC 8037 §2 / RFC 7518 §6.2.1) plus ``kid``; nothing else."""
        out = {"kty": self.kty, "crv": self.crv, "x": self.x}
        if self.y is not None:
            out["y"] = self.y
        out["kid"] = self.kid
        return out


def parse_public_jwk(obj: Mapping[str, Any]) -> PublicJwk:
    """Validate a public JWK of an accepted family and return it with its thumbprint as ``kid``.

    Codes: ``invalid_jwk`` (not an object), ``private_key_material``, ``missing_member``,
    ``unsupported_key_type``, ``unsupported_curve``, ``invalid_coordinate``, ``invalid_use``,
    ``invalid_key_ops``, ``unsupported_alg``, ``kid_mismatch``.
    """
    if not isinstance(obj, Mapping):
        raise JwkError("invalid_jwk", "a JWK must be a JSON object")
    _refuse_private_members(obj)
    kty = _string_member(obj, "kty")
    if kty not in ("OKP", "EC"):
        raise JwkError("unsupported_key_type", "only OKP (Ed25519) and EC (P-256) keys are accepted", "kty")
    crv = _string_member(obj, "crv")
    x = _string_member(obj, "x")
    if kty == "OKP":
        jwk = _parse_ed25519(crv, x)
    else:
        jwk = _parse_p256(crv, x, obj)
    _check_optional_members(obj, jwk)
    return jwk


def _refuse_private_members(obj: Mapping[str, Any]) -> None:
    for name in _PRIVATE_MEMBERS:
        if name in obj:
            raise JwkError(
                "private_key_material",
                f"the JWK contains the private member {name!r}; send only the public key "
                "(and treat this private key as compromised)",
                name,
            )


def _string_member(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name)
    if value is None:
        raise JwkError("missing_member", f"the JWK has no {name!r} member", name)
    if not isinstance(value, str):
        raise JwkError("invalid_member", f"the JWK member {name!r} must be a string", name)
    return value


def _coordinate(value: str, name: str) -> bytes:
    try:
        raw = b64url_decode(value)
    except ValueError as exc:
        raise JwkError("invalid_coordinate", f"{name!r} is not canonical base64url: {exc}", name) from None
    if len(raw) != _COORDINATE_BYTES:
        raise JwkError("invalid_coordinate", f"{name!r} must encode exactly {_COORDINATE_BYTES} bytes", name)
    return raw


def _parse_ed25519(crv: str, x: str) -> PublicJwk:
    if crv != "Ed25519":
        raise JwkError("unsupported_curve", "an OKP key must have crv 'Ed25519'", "crv")
    public_key = Ed25519PublicKey.from_public_bytes(_coordinate(x, "x"))
    kid = _thumbprint_of({"crv": crv, "kty": "OKP", "x": x})
    return PublicJwk("OKP", crv, x, None, kid, ED25519, _ALLOWED_ALGS[ED25519], public_key)


def _parse_p256(crv: str, x: str, obj: Mapping[str, Any]) -> PublicJwk:
    if crv != "P-256":
        raise JwkError("unsupported_curve", "an EC key must have crv 'P-256'", "crv")
    y = _string_member(obj, "y")
    x_int = int.from_bytes(_coordinate(x, "x"), "big")
    y_int = int.from_bytes(_coordinate(y, "y"), "big")
    try:
        # cryptography checks that the point lies on the curve (and is not the identity).
        public_key = ec.EllipticCurvePublicNumbers(x_int, y_int, ec.SECP256R1()).public_key()
    except ValueError:
        raise JwkError("invalid_coordinate", "the point (x, y) is not on the P-256 curve", "x") from None
    kid = _thumbprint_of({"crv": crv, "kty": "EC", "x": x, "y": y})
    return PublicJwk("EC", crv, x, y, kid, P256, _ALLOWED_ALGS[P256], public_key)


def _check_optional_members(obj: Mapping[str, Any], jwk: PublicJwk) -> None:
    """``use`` (RFC 7517 §4.2), ``key_ops`` (§4.3), ``alg`` (§4.4) and ``kid`` (§4.5) must fit."""
    if "use" in obj and obj["use"] != "sig":
        raise JwkError("invalid_use", "a signing key may only have use 'sig'", "use")
    if "key_ops" in obj:
        ops = obj["key_ops"]
        if not isinstance(ops, list) or not ops or any(op != "verify" for op in ops):
            raise JwkError(
                "invalid_key_ops", "a public signing key may only have key_ops ['verify']", "key_ops"
            )
    if "alg" in obj and obj["alg"] not in jwk.allowed_algs:
        allowed = ", ".join(sorted(jwk.allowed_algs))
        raise JwkError("unsupported_alg", f"a {jwk.family} key signs only with {allowed}", "alg")
    if "kid" in obj and obj["kid"] != jwk.kid:
        raise JwkError("kid_mismatch", "kid must be the RFC 7638 SHA-256 thumbprint of the key", "kid")


# --- thumbprints (RFC 7638) ---------------------------------------------------------------------


def thumbprint(jwk: PublicJwk | Mapping[str, Any]) -> str:
    """RFC 7638 §3 SHA-256 thumbprint, base64url.

    The hash input is the JSON object of the *required* members only (§3.2), in lexicographic
    order, without whitespace. Works for any key type that has required members (OKP, EC, RSA,
    oct) so that a thumbprint can be shown even for a key that will then be refused.
    """
    if isinstance(jwk, PublicJwk):
        return jwk.kid
    kty = jwk.get("kty")
    if not isinstance(kty, str) or kty not in _THUMBPRINT_MEMBERS:
        raise JwkError("unsupported_key_type", "no RFC 7638 thumbprint for this kty", "kty")
    return _thumbprint_of({name: _string_member(jwk, name) for name in _THUMBPRINT_MEMBERS[kty]})


def _thumbprint_of(required: Mapping[str, str]) -> str:
    text = json.dumps(dict(required), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return b64url_encode(hashlib.sha256(text.encode("utf-8")).digest())


# --- private keys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrivateJwk:
    """A private signing key with its public half. ``sign`` returns the JWS signature bytes."""

    public: PublicJwk
    private_key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey = field(repr=False, compare=False)

    @property
    def kid(self) -> str:
        """The RFC 7638 thumbprint of the public key."""
        return self.public.kid

    @property
    def family(self) -> KeyFamily:
        """``"Ed25519"`` or ``"P-256"``."""
        return self.public.family

    def sign(self, data: bytes) -> bytes:
        """Sign a JWS signing input: raw 64 bytes (Ed25519, RFC 8032 §5.1.6; ES256 ``R || S``, RFC 7518 §3.4)."""
        if isinstance(self.private_key, Ed25519PrivateKey):
            return self.private_key.sign(data)
        der = self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))
        return ecdsa_der_to_raw(der)


def generate_private_jwk(family: KeyFamily = ED25519) -> dict[str, str]:
    """Generate a new key; return its private JWK (public members, ``d`` and ``kid``)."""
    if family == ED25519:
        key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey = Ed25519PrivateKey.generate()
    elif family == P256:
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise JwkError("unsupported_key_type", "family must be 'Ed25519' or 'P-256'")
    return _private_jwk_dict(key)


def _private_jwk_dict(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> dict[str, str]:
    if isinstance(key, Ed25519PrivateKey):
        d = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        x = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        public = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(x)}
    else:
        numbers = key.private_numbers()
        d = numbers.private_value.to_bytes(_COORDINATE_BYTES, "big")
        public = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.public_numbers.x.to_bytes(_COORDINATE_BYTES, "big")),
            "y": b64url_encode(numbers.public_numbers.y.to_bytes(_COORDINATE_BYTES, "big")),
        }
    return {**public, "d": b64url_encode(d), "kid": thumbprint(public)}


def public_jwk_from_private(d: Mapping[str, Any]) -> dict[str, str]:
    """The public JWK (with ``kid``) of a private JWK; the private half is checked to match."""
    return load_private_jwk(d).public.to_dict()


def load_private_jwk(d: Mapping[str, Any]) -> PrivateJwk:
    """Load a private JWK of an accepted family; ``d`` must derive the stated public key.

    Codes: those of :func:`parse_public_jwk`, plus ``missing_member`` / ``invalid_private_key``
    for ``d`` and ``key_mismatch`` when ``d`` does not belong to ``x`` (``y``).
    """
    if not isinstance(d, Mapping):
        raise JwkError("invalid_jwk", "a JWK must be a JSON object")
    scalar = _private_scalar(d)
    public = parse_public_jwk({name: value for name, value in d.items() if name != "d"})
    key = _private_key(public.family, scalar)
    if _private_jwk_dict(key)["kid"] != public.kid:
        raise JwkError("key_mismatch", "the private member 'd' does not belong to this public key", "d")
    return PrivateJwk(public, key)


def _private_scalar(d: Mapping[str, Any]) -> bytes:
    value = _string_member(d, "d")
    try:
        raw = b64url_decode(value)
    except ValueError:
        raise JwkError("invalid_private_key", "'d' is not canonical base64url", "d") from None
    if len(raw) != _COORDINATE_BYTES:
        raise JwkError("invalid_private_key", f"'d' must encode exactly {_COORDINATE_BYTES} bytes", "d")
    return raw


def _private_key(family: KeyFamily, scalar: bytes) -> Ed25519PrivateKey | ec.EllipticCurvePrivateKey:
    if family == ED25519:
        return Ed25519PrivateKey.from_private_bytes(scalar)
    value = int.from_bytes(scalar, "big")
    if not 0 < value < _P256_ORDER:
        raise JwkError("invalid_private_key", "'d' is out of range for P-256", "d")
    return ec.derive_private_key(value, ec.SECP256R1())
