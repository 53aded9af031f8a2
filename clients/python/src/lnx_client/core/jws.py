"""Strict JWS Compact Serialization for lnx documents (pure: stdlib + ``cryptography``).

Every lnx document is a JWS in compact serialisation (RFC 7515 §7.1) with a UTF-8 JSON-object
payload (CONTRACT.md §2). This module is the one strict reading of such a token, shared by the
server (before it hands the signature to a vetted library) and by the client's offline verifier
(which checks the signature here with ``cryptography`` directly, so auditors get an independent
implementation).

Decisions beyond RFC 7515 -- each refusal raises :class:`JwsError` with a stable ``code``:

* ``too_large`` -- the token is longer than ``max_size`` bytes (default 256 KiB, the request limit).
* ``malformed`` -- not ASCII, or not exactly three ``.``-separated segments (so no JWE, no JSON
  serialisation, no detached payload -- an empty payload segment is not JSON either).
* ``non_canonical_base64url`` -- a segment with padding, characters outside the URL-safe
  alphabet, or non-zero trailing bits: a token has exactly one spelling, so its SHA-256 (the log
  leaf) identifies the document.
* ``not_utf8`` / ``invalid_json`` / ``not_json_object`` -- header and payload must be UTF-8
  (RFC 7515 §4 / CONTRACT §2) JSON objects (RFC 8259 §4). ``NaN`` / ``Infinity`` and lone
  surrogates (I-JSON, RFC 7493 §2.1) are ``invalid_json``, as are numbers too long to read and
  nesting too deep to read.
* ``duplicate_json_key`` -- a member name repeated in any object at any depth of header or
  payload (RFC 7515 §5.2 step 4 lets parsers reject them; RFC 7493 §2.3 forbids them): two
  parsers must never see two different documents in one token.
* ``alg_not_allowed`` -- ``alg`` missing, not a string, or not ``Ed25519`` / ``EdDSA`` / ``ES256``
  (so ``none``, ``HS*``, ``RS*``, ``PS*``, ... are refused before any key is looked up).
* ``bad_typ`` -- ``typ`` missing or not exactly ``lnx+json`` (RFC 7515 §4.1.9, RFC 8725 §3.11:
  explicit typing, so an lnx document cannot be confused with a JWT or another JOSE object).
* ``missing_kid`` / ``invalid_kid`` -- ``kid`` absent, or not a string of 1..256 characters.
* ``forbidden_header`` -- ``crit``, ``jku``, ``x5u``, ``jwk``, ``x5c``, ``x5t``, ``x5t#S256`` or
  ``b64`` (RFC 7797) present at all: keys come from the registry only, and nothing may change
  how the token is processed.
* ``unknown_header`` -- any other member. **The protected header has exactly the members
  ``alg``, ``kid`` and ``typ``**; even ``cty`` is refused (the payload type is fixed by ``typ``),
  so that the header carries nothing that is not checked.
* ``alg_key_mismatch`` -- the header's ``alg`` is not one the registered key signs with: the
  algorithm is pinned by the key (``Ed25519``/``EdDSA`` for Ed25519 keys, ``ES256`` for P-256),
  never chosen by the header (RFC 8725 §2.1, §3.1).
* ``unknown_kid`` -- (``verify_compact``) no key is known under the header's ``kid``.
* ``bad_signature`` -- the signature is not exactly 64 bytes or does not verify
  (Ed25519: RFC 8032 §5.1.7; ES256: RFC 7518 §3.4, ``R || S``).

``typ`` is compared exactly (no ``application/`` prefix, no case folding): the contract fixes
the spelling, and signers here produce exactly that.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .jwk import (
    PublicJwk,
    b64url_decode,
    b64url_encode,
    ecdsa_raw_to_der,
    load_private_jwk,
)

__all__ = [
    "ALLOWED_ALGS",
    "ALLOWED_HEADER_MEMBERS",
    "DEFAULT_MAX_SIZE",
    "FORBIDDEN_HEADER_MEMBERS",
    "SIGNATURE_BYTES",
    "TYP",
    "HeaderCache",
    "JwkSigner",
    "JwsError",
    "ParsedJws",
    "Signer",
    "check_alg_for_key",
    "parse_compact",
    "sign_compact",
    "verify_compact",
    "verify_signature",
    "verify_signed_bytes",
]

TYP = "lnx+json"
ALLOWED_ALGS: frozenset[str] = frozenset({"Ed25519", "EdDSA", "ES256"})
ALLOWED_HEADER_MEMBERS: frozenset[str] = frozenset({"alg", "kid", "typ"})
FORBIDDEN_HEADER_MEMBERS: frozenset[str] = frozenset(
    {"crit", "jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256", "b64"}
)
DEFAULT_MAX_SIZE = 256 * 1024
SIGNATURE_BYTES = 64  # Ed25519 (RFC 8032 §5.1.6) and ES256 R || S (RFC 7518 §3.4)
_MAX_KID_LENGTH = 256
_DEFAULT_ALG = {"Ed25519": "Ed25519", "P-256": "ES256"}


class JwsError(ValueError):
    """A JWS was refused; ``code`` is stable and listed in the module docstring."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"JwsError(code={self.code!r}, message={self.message!r})"


@dataclass(frozen=True)
class ParsedJws:
    """A compact JWS that passed the strict checks (its signature is not yet verified)."""

    header: dict[str, Any]
    payload: dict[str, Any]
    payload_bytes: bytes
    signing_input: bytes
    signature: bytes
    raw: bytes

    @property
    def alg(self) -> str:
        """The header's ``alg`` (one of :data:`ALLOWED_ALGS`)."""
        return str(self.header["alg"])

    @property
    def kid(self) -> str:
        """The header's ``kid``."""
        return str(self.header["kid"])


# --- parsing ------------------------------------------------------------------------------------


def parse_compact(
    token: str | bytes,
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    expected_typ: str = TYP,
    header_cache: HeaderCache | None = None,
) -> ParsedJws:
    """Split, decode and check a compact JWS (RFC 7515 §5.2 steps 1-8, made strict).

    Raises only :class:`JwsError`. The signature is *not* verified here; see
    :func:`verify_signature` / :func:`verify_compact`. ``expected_typ`` is ``lnx+json`` for
    documents; other signed objects of the exchange (key rotation requests) name their own.

    ``header_cache`` (a :class:`HeaderCache`) spares re-reading a header segment already read
    and accepted: documents signed with one key share one header segment, and its strict reading
    is a function of its bytes (and ``expected_typ``), so the result is the same as without it.
    """
    raw = _ascii_bytes(token)
    if len(raw) > max_size:
        raise JwsError("too_large", f"the JWS is larger than {max_size} bytes")
    segments = raw.split(b".")
    if len(segments) != 3:
        raise JwsError("malformed", "a compact JWS has exactly three segments")
    header_segment, payload_segment, signature_segment = segments
    header = header_cache.get(header_segment, expected_typ) if header_cache is not None else None
    if header is not None:
        # The header segment decoded and passed every check before: only the others can fail,
        # in the same order as below (payload segment, signature segment, payload JSON).
        payload_bytes = _decode_segment(payload_segment, "payload")
        signature = _decode_segment(signature_segment, "signature")
    else:
        header_bytes, payload_bytes, signature = (
            _decode_segment(s, n) for s, n in zip(segments, _SEGMENT_NAMES, strict=True)
        )
        header = _json_object(header_bytes, "header")
        _check_header(header, expected_typ)
        if header_cache is not None:
            header_cache.put(header_segment, expected_typ, header)
            header = dict(header)
    payload = _json_object(payload_bytes, "payload")
    signing_input = raw[: len(header_segment) + 1 + len(payload_segment)]  # header "." payload
    return ParsedJws(header, payload, payload_bytes, signing_input, signature, raw)


class HeaderCache:
    """Protected headers already read and accepted by :func:`parse_compact`, by segment and ``typ``.

    Only accepted headers are kept (a refused one is read again, and refused again, each time);
    each hit returns a fresh copy, so a caller changing a header cannot change another's. At most
    ``size`` segments are kept (then the cache starts over).
    """

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int = 1024) -> None:
        self._entries: dict[tuple[bytes, str], dict[str, Any]] = {}
        self._size = size

    def get(self, segment: bytes, typ: str) -> dict[str, Any] | None:
        header = self._entries.get((segment, typ))
        return None if header is None else dict(header)

    def put(self, segment: bytes, typ: str, header: dict[str, Any]) -> None:
        if len(self._entries) >= self._size:
            self._entries.clear()
        self._entries[(segment, typ)] = dict(header)

    def __len__(self) -> int:
        return len(self._entries)


_SEGMENT_NAMES = ("header", "payload", "signature")


def _ascii_bytes(token: str | bytes) -> bytes:
    if isinstance(token, str):
        try:
            return token.encode("ascii")
        except UnicodeEncodeError:
            raise JwsError("malformed", "a compact JWS is ASCII text") from None
    if isinstance(token, bytes | bytearray | memoryview):
        raw = bytes(token)
        if not raw.isascii():
            raise JwsError("malformed", "a compact JWS is ASCII text")
        return raw
    raise JwsError("malformed", "a compact JWS is text or bytes")


def _decode_segment(segment: bytes, name: str) -> bytes:
    try:
        return b64url_decode(segment)
    except ValueError as exc:
        raise JwsError("non_canonical_base64url", f"the {name} segment: {exc}") from None


def _json_object(data: bytes, name: str) -> dict[str, Any]:
    """Parse strict JSON (RFC 8259 + I-JSON, RFC 7493 §2) that must be an object."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise JwsError("not_utf8", f"the {name} is not UTF-8") from None
    try:
        # json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants),
        # spelt out (JSONDecoder.decode) with the decoder's scanner made once.
        if text.startswith("\ufeff"):  # a byte order mark is not JSON
            raise ValueError("a byte order mark is not JSON")
        start = _WHITESPACE(text, 0).end() if text[:1].isspace() else 0
        value, end = _SCAN_ONCE(text, start)
        if end != len(text) and _WHITESPACE(text, end).end() != len(text):
            raise ValueError("extra data after the JSON value")
    except JwsError:
        raise
    except (ValueError, RecursionError, StopIteration):
        raise JwsError("invalid_json", f"the {name} is not valid JSON") from None
    if not isinstance(value, dict):
        raise JwsError("not_json_object", f"the {name} is not a JSON object")
    # ``text`` is strict UTF-8, which cannot carry a surrogate: the only way a lone surrogate
    # enters a parsed string is a \uD800-\uDFFF escape, so without any \u escape (the common
    # case) there is nothing to look for.
    if "\\u" in text and not _is_unicode_clean(value):
        raise JwsError("invalid_json", f"the {name} contains a lone surrogate (RFC 7493 §2.1)")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) == len(pairs):
        return out
    out = {}
    for key, value in pairs:
        if key in out:
            raise JwsError("duplicate_json_key", f"duplicate JSON member name {key!r}")
        out[key] = value
    raise AssertionError("unreachable: fewer members than pairs means a repeated name")  # pragma: no cover


def _no_constants(name: str) -> Any:
    raise JwsError("invalid_json", f"{name} is not JSON (RFC 8259 §6)")


_SCAN_ONCE = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants).scan_once
_WHITESPACE = json.decoder.WHITESPACE.match


def _is_unicode_clean(value: Any) -> bool:
    """True unless a string (member name or value) holds a lone surrogate, which UTF-8 cannot carry."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _encodes(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_header(header: Mapping[str, Any], expected_typ: str = TYP) -> None:
    """The contract's header rules (CONTRACT.md §2; RFC 7515 §4.1; RFC 8725 §3.1, §3.11)."""
    forbidden = sorted(FORBIDDEN_HEADER_MEMBERS.intersection(header))
    if forbidden:
        raise JwsError("forbidden_header", f"header member {forbidden[0]!r} is not allowed")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALLOWED_ALGS:
        raise JwsError("alg_not_allowed", "alg must be one of Ed25519, EdDSA, ES256")
    if header.get("typ") != expected_typ:
        raise JwsError("bad_typ", f"typ must be {expected_typ!r}")
    if "kid" not in header:
        raise JwsError("missing_kid", "the header has no kid")
    kid = header["kid"]
    if not isinstance(kid, str) or not 0 < len(kid) <= _MAX_KID_LENGTH:
        raise JwsError("invalid_kid", f"kid must be a string of 1 to {_MAX_KID_LENGTH} characters")
    unknown = sorted(set(header) - ALLOWED_HEADER_MEMBERS)
    if unknown:
        raise JwsError("unknown_header", f"header member {unknown[0]!r} is not allowed (only alg, kid, typ)")


# --- verification -------------------------------------------------------------------------------


def check_alg_for_key(header: Mapping[str, Any], jwk: PublicJwk) -> None:
    """Refuse (``alg_key_mismatch``) a header ``alg`` the registered key does not sign with (RFC 8725 §3.1)."""
    if header.get("alg") not in jwk.allowed_algs:
        allowed = ", ".join(sorted(jwk.allowed_algs))
        raise JwsError("alg_key_mismatch", f"this {jwk.family} key signs only with {allowed}")


def verify_signature(parsed: ParsedJws, jwk: PublicJwk) -> None:
    """Verify the signature over ``parsed.signing_input`` with ``cryptography`` (RFC 7515 §5.2 step 8).

    Checks the algorithm against the key first (:func:`check_alg_for_key`). Raises
    ``JwsError("bad_signature")`` if the signature is not 64 bytes or does not verify.
    """
    verify_signed_bytes(parsed.header.get("alg"), parsed.signing_input, parsed.signature, jwk)


def verify_signed_bytes(alg: Any, signing_input: bytes, signature: bytes, jwk: PublicJwk) -> None:
    """:func:`verify_signature` on the parts of a JWS that :func:`parse_compact` accepted: the
    header's ``alg``, the signing input and the decoded signature (what a worker process needs)."""
    if alg not in jwk.allowed_algs:
        allowed = ", ".join(sorted(jwk.allowed_algs))
        raise JwsError("alg_key_mismatch", f"this {jwk.family} key signs only with {allowed}")
    if len(signature) != SIGNATURE_BYTES:
        raise JwsError("bad_signature", f"the signature must be {SIGNATURE_BYTES} bytes")
    try:
        if isinstance(jwk.public_key, Ed25519PublicKey):
            jwk.public_key.verify(signature, signing_input)
        else:
            der = ecdsa_raw_to_der(signature)
            jwk.public_key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise JwsError("bad_signature", "the signature does not verify") from None


def verify_compact(
    token: str | bytes,
    key_lookup: Callable[[str], PublicJwk | None],
    *,
    max_size: int = DEFAULT_MAX_SIZE,
) -> ParsedJws:
    """Parse strictly, find the key by ``kid`` (``unknown_kid``), pin the algorithm, verify."""
    parsed = parse_compact(token, max_size=max_size)
    jwk = key_lookup(parsed.kid)
    if jwk is None:
        raise JwsError("unknown_kid", "no key is known under this kid")
    verify_signature(parsed, jwk)
    return parsed


# --- signing ------------------------------------------------------------------------------------


@runtime_checkable
class Signer(Protocol):
    """Anything that signs JWS signing inputs: a local JWK, an HSM, a KMS.

    ``sign`` must return the JWS signature bytes: 64 raw bytes for Ed25519, and for ES256 the
    64-byte ``R || S`` of RFC 7518 §3.4 (convert a DER signature with ``ecdsa_der_to_raw``).
    """

    @property
    def alg(self) -> str:
        """The JWS ``alg``: ``Ed25519``, ``EdDSA`` or ``ES256``."""
        ...

    @property
    def kid(self) -> str:
        """The registered key's ``kid`` (RFC 7638 thumbprint)."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` (the ASCII JWS signing input)."""
        ...


class JwkSigner:
    """A :class:`Signer` over a private JWK dict. ``alg`` defaults to ``Ed25519`` (RFC 9864) / ``ES256``."""

    def __init__(self, private_jwk: Mapping[str, Any], alg: str | None = None) -> None:
        self._key = load_private_jwk(private_jwk)
        chosen = alg if alg is not None else _DEFAULT_ALG[self._key.family]
        if chosen not in self._key.public.allowed_algs:
            raise JwsError("alg_key_mismatch", f"a {self._key.family} key cannot sign with {chosen!r}")
        self._alg = chosen

    @property
    def alg(self) -> str:
        """The JWS ``alg`` this signer writes into the header."""
        return self._alg

    @property
    def kid(self) -> str:
        """The key's RFC 7638 thumbprint."""
        return self._key.kid

    @property
    def public_jwk(self) -> PublicJwk:
        """The public half, e.g. to verify what was just signed."""
        return self._key.public

    def sign(self, data: bytes) -> bytes:
        """Raw JWS signature bytes over ``data``."""
        return self._key.sign(data)

    def __repr__(self) -> str:
        return f"JwkSigner(alg={self._alg!r}, kid={self.kid!r})"


def sign_compact(payload: Mapping[str, Any] | bytes, signer: Signer, *, typ: str = TYP) -> str:
    """Produce the compact JWS (RFC 7515 §7.1) of ``payload`` with header ``{alg, kid, typ}``.

    A mapping is serialised compactly (``separators=(",", ":")``, UTF-8, no ASCII escaping).
    Bytes are signed as given but must already be a strict JSON object, so that nothing this
    function returns is refused by :func:`parse_compact`.
    """
    if signer.alg not in ALLOWED_ALGS:
        raise JwsError("alg_not_allowed", "alg must be one of Ed25519, EdDSA, ES256")
    payload_bytes = payload if isinstance(payload, bytes) else _compact_json(payload)
    _json_object(payload_bytes, "payload")
    header = {"alg": signer.alg, "kid": signer.kid, "typ": typ}
    _check_header(header, typ)
    signing_input = f"{b64url_encode(_compact_json(header))}.{b64url_encode(payload_bytes)}"
    signature = signer.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


def _compact_json(obj: Mapping[str, Any]) -> bytes:
    try:
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise JwsError("invalid_json", f"the payload cannot be serialised as JSON: {exc}") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise JwsError("invalid_json", "the payload contains a lone surrogate (RFC 7493 §2.1)") from None
