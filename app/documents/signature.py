"""The server's check of a submitted document's JWS (CONTRACT.md §2, §3).

Two layers, in this order:

1. **Strict parsing** with the shared pure core, :func:`lnx_client.core.jws.parse_compact`:
   canonical base64url, UTF-8 JSON objects without duplicate keys, header of exactly
   ``{alg, kid, typ: "lnx+json"}``, algorithm allow-list, size cap. These rules are stricter than
   any JOSE library's defaults and are the same code the client runs.
2. **Signature verification with a vetted library: joserfc** (``joserfc.jws.deserialize_compact``),
   after the algorithm has been pinned by the *registered* key (never by the header, RFC 8725
   §3.1; ``alg_key_mismatch``) and with a ``JWSRegistry`` that allows only that key's algorithms.

Why joserfc rather than PyJWT or jwcrypto: it is maintained (authlib), typed, implements RFC 9864's
fully specified ``Ed25519`` algorithm as well as ``EdDSA`` (PyJWT 2.x knows only ``EdDSA``), its
registry lets us pin the allowed algorithms per call and refuse unregistered header members,
and it is a JWS library rather than a JWT one (no claim processing to switch off). The client's
offline verifier checks signatures with ``cryptography`` directly through the pure core, so an
auditor re-verifying the log uses an implementation independent of the server's.

joserfc 1.8 emits a ``SecurityWarning`` whenever ``EdDSA`` is used, because RFC 9864 deprecates
that name. The contract accepts it on purpose, so this module's registries carry a copy of
joserfc's ``EdDSA`` model without the warning. That is local to our registries and thread-safe,
which ``warnings.catch_warnings`` (process-global state) is not under a threaded server.

Every refusal raises :class:`lnx_client.core.jws.JwsError` with a stable ``code`` (listed in
that module), plus here: ``unknown_kid`` (the lookup found no key) and ``verifier_rejected``
(joserfc refused a token the strict parser accepted -- a bug to report, not a client error).
:func:`status_for` suggests an HTTP status for each code.

Cost: verify once per document (LIMITS.md: ~5,000 verifications/s per core with joserfc);
:func:`verify_submission` parses once and verifies once.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection
from functools import lru_cache
from typing import Any

from joserfc import jws as jose_jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import ECKey, OKPKey
from joserfc.jws import JWSRegistry
from lnx_client.core.jwk import PublicJwk
from lnx_client.core.jws import (
    DEFAULT_MAX_SIZE,
    SIGNATURE_BYTES,
    JwsError,
    ParsedJws,
    check_alg_for_key,
    parse_compact,
)

__all__ = [
    "JwsError",
    "ParsedJws",
    "parse",
    "status_for",
    "verify",
    "verify_submission",
]

_MAX_SIGNATURE_SEGMENT = 128  # a 64-byte signature is 86 base64url characters


def parse(raw: bytes | str, *, max_size: int = DEFAULT_MAX_SIZE) -> ParsedJws:
    """Strictly parse a submitted compact JWS (no signature check yet)."""
    return parse_compact(raw, max_size=max_size)


def verify(parsed: ParsedJws, jwk: PublicJwk) -> None:
    """Pin the algorithm by the registered key, then verify the signature with joserfc."""
    check_alg_for_key(parsed.header, jwk)
    if len(parsed.signature) != SIGNATURE_BYTES:  # as the core verifier says, before joserfc's size limits
        raise JwsError("bad_signature", f"the signature must be {SIGNATURE_BYTES} bytes")
    registry = _registry(jwk.allowed_algs, len(parsed.raw))
    try:
        obj = jose_jws.deserialize_compact(parsed.raw, _joserfc_key(jwk), registry=registry)
    except BadSignatureError:
        raise JwsError("bad_signature", "the signature does not verify") from None
    except (JoseError, ValueError, TypeError):
        raise JwsError("verifier_rejected", "the signature verifier refused the token") from None
    # Both readings come from the same bytes; refuse if a parser differential ever creeps in.
    if obj.payload != parsed.payload_bytes or obj.headers() != parsed.header:
        raise JwsError("verifier_rejected", "the signature verifier read a different token")


def verify_submission(
    raw: bytes | str,
    key_lookup: Callable[[str], PublicJwk | None],
    *,
    max_size: int = DEFAULT_MAX_SIZE,
) -> ParsedJws:
    """Parse, look the key up by ``kid`` (``unknown_kid``), verify; return the parsed document.

    ``key_lookup`` decides which keys count (issuer's own, not revoked, valid at submission time)
    and may raise its own errors; returning ``None`` means "no such key".
    """
    parsed = parse(raw, max_size=max_size)
    jwk = key_lookup(parsed.kid)
    if jwk is None:
        raise JwsError("unknown_kid", "no registered key has this kid")
    verify(parsed, jwk)
    return parsed


_STATUS_BY_CODE = {"too_large": 413}


def status_for(error: JwsError) -> int:
    """Suggested HTTP status: 413 for ``too_large``, otherwise 422 (the document is not acceptable)."""
    return _STATUS_BY_CODE.get(error.code, 422)


# --- joserfc plumbing ---------------------------------------------------------------------------


def _quiet_algorithms() -> dict[str, Any]:
    """joserfc's algorithm table with an ``EdDSA`` model that does not warn (see module docstring)."""
    table = dict(JWSRegistry.algorithms)
    eddsa = copy.copy(table["EdDSA"])
    eddsa.security_warning = None
    table["EdDSA"] = eddsa
    return table


_ALGORITHMS = _quiet_algorithms()


@lru_cache(maxsize=64)
def _registry_cached(algorithms: tuple[str, ...], max_length: int) -> JWSRegistry:
    registry = JWSRegistry(algorithms=list(algorithms), strict_check_header=True)
    registry.algorithms = _ALGORITHMS
    registry.max_header_length = max_length
    registry.max_payload_length = max_length
    registry.max_signature_length = _MAX_SIGNATURE_SEGMENT
    return registry


def _registry(algorithms: Collection[str], token_length: int) -> JWSRegistry:
    # Round the size limit up to a power of two so that the cache stays small.
    return _registry_cached(tuple(sorted(algorithms)), max(1024, 1 << (token_length - 1).bit_length()))


@lru_cache(maxsize=4096)
def _import_key(kty: str, crv: str, x: str, y: str | None) -> OKPKey | ECKey:
    # Keyed by the key's public members, which its kid (RFC 7638 thumbprint) commits to.
    if kty == "OKP":
        return OKPKey.import_key({"kty": kty, "crv": crv, "x": x})
    return ECKey.import_key({"kty": kty, "crv": crv, "x": x, "y": y or ""})


def _joserfc_key(jwk: PublicJwk) -> OKPKey | ECKey:
    return _import_key(jwk.kty, jwk.crv, jwk.x, jwk.y)
