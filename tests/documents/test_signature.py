"""app.documents.signature: strict core parsing, then joserfc verification pinned by the registered key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws as jose_jws
from joserfc.errors import UnsupportedAlgorithmError
from joserfc.jwk import ECKey, OKPKey
from lnx_client.core.jwk import (
    PublicJwk,
    b64url_decode,
    b64url_encode,
    generate_private_jwk,
    load_private_jwk,
    parse_public_jwk,
    public_jwk_from_private,
)
from lnx_client.core.jws import JwkSigner, JwsError, ParsedJws, sign_compact, verify_compact

from app.documents import signature

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
PAYLOAD = {"type": "acknowledgement", "id": "PAK-2026-7", "issuer": "PAK", "references": "IND-2026-0014"}


@pytest.fixture(scope="module")
def ed_private() -> dict:
    return generate_private_jwk("Ed25519")


@pytest.fixture(scope="module")
def ec_private() -> dict:
    return generate_private_jwk("P-256")


def _public(private: dict) -> PublicJwk:
    return parse_public_jwk(public_jwk_from_private(private))


def _lookup(*keys: PublicJwk):
    table = {key.kid: key for key in keys}
    return table.get


def _token(private: dict, header: dict[str, Any], payload: bytes) -> bytes:
    key = load_private_jwk(private)
    signing_input = (
        b64url_encode(json.dumps(header, separators=(",", ":")).encode()) + "." + b64url_encode(payload)
    ).encode()
    return signing_input + b"." + b64url_encode(key.sign(signing_input)).encode()


def _code(raw: bytes | str, *keys: PublicJwk, **kwargs: Any) -> str:
    with pytest.raises(JwsError) as info:
        signature.verify_submission(raw, _lookup(*keys), **kwargs)
    return info.value.code


# --- accepted tokens from several implementations ----------------------------------------------


@pytest.mark.parametrize(
    ("family", "alg"), [("Ed25519", "Ed25519"), ("Ed25519", "EdDSA"), ("P-256", "ES256")]
)
def test_our_tokens_are_accepted(family: str, alg: str) -> None:
    private = generate_private_jwk(family)
    token = sign_compact(PAYLOAD, JwkSigner(private, alg=alg))
    parsed = signature.verify_submission(token.encode(), _lookup(_public(private)))
    assert parsed.payload == PAYLOAD
    assert parsed.raw == token.encode()


def test_pyjwt_tokens_are_accepted_by_server_and_core(ed_private: dict, ec_private: dict) -> None:
    for private, alg in ((ed_private, "EdDSA"), (ec_private, "ES256")):
        key = load_private_jwk(private)
        token = jwt.encode(
            PAYLOAD, key.private_key, algorithm=alg, headers={"kid": key.kid, "typ": "lnx+json"}
        )
        assert signature.verify_submission(token, _lookup(key.public)).payload == PAYLOAD
        assert verify_compact(token, _lookup(key.public)).payload == PAYLOAD


def test_joserfc_tokens_are_accepted_by_server_and_core(ed_private: dict, ec_private: dict) -> None:
    for private, alg, key_cls in ((ed_private, "Ed25519", OKPKey), (ec_private, "ES256", ECKey)):
        header = {"alg": alg, "kid": private["kid"], "typ": "lnx+json"}
        token = jose_jws.serialize_compact(
            header, json.dumps(PAYLOAD), key_cls.import_key(dict(private)), [alg]
        )
        assert signature.verify_submission(token, _lookup(_public(private))).payload == PAYLOAD
        assert verify_compact(token, _lookup(_public(private))).payload == PAYLOAD


def test_eddsa_raises_no_warning(ed_private: dict) -> None:
    # pytest runs with filterwarnings=error: joserfc's SecurityWarning for EdDSA would fail this test.
    token = sign_compact(PAYLOAD, JwkSigner(ed_private, alg="EdDSA"))
    for _ in range(3):
        signature.verify_submission(token, _lookup(_public(ed_private)))


def test_parse_then_verify(ed_private: dict) -> None:
    token = sign_compact(PAYLOAD, JwkSigner(ed_private))
    parsed = signature.parse(token)
    assert parsed.kid == ed_private["kid"]
    signature.verify(parsed, _public(ed_private))


# --- RFC 8037 known answer (no typ / kid: the verification step alone) ---------------------------


def test_rfc8037_signature_verifies_with_joserfc() -> None:
    vector = json.loads((TESTDATA / "rfc8037_ed25519_jws.json").read_text(encoding="utf-8"))
    jwk = parse_public_jwk({k: v for k, v in vector["jwk_private"].items() if k != "d"})
    header_segment, payload_segment, signature_segment = vector["jws_compact"].split(".")
    parsed = ParsedJws(
        header=vector["protected_header"],
        payload={},
        payload_bytes=vector["payload_text"].encode(),
        signing_input=f"{header_segment}.{payload_segment}".encode(),
        signature=b64url_decode(signature_segment),
        raw=vector["jws_compact"].encode(),
    )
    signature.verify(parsed, jwk)
    with pytest.raises(JwsError) as info:
        signature.verify_submission(vector["jws_compact"], _lookup(jwk))
    assert info.value.code == "bad_typ"
    forged = vector["jws_compact"][:-2] + ("AA" if not vector["jws_compact"].endswith("AA") else "BA")
    with pytest.raises(JwsError) as info:
        signature.verify(ParsedJws(**{**parsed.__dict__, "raw": forged.encode()}), jwk)
    assert info.value.code == "bad_signature"


# --- refusals: the strict core runs first --------------------------------------------------------


def test_strict_checks_that_joserfc_alone_would_let_through(ed_private: dict) -> None:
    kid = ed_private["kid"]
    good_header = {"alg": "Ed25519", "kid": kid, "typ": "lnx+json"}
    cases = {
        "duplicate_json_key": _token(ed_private, good_header, b'{"id":"A","id":"B"}'),
        "unknown_header": _token(ed_private, {**good_header, "cty": "json"}, b"{}"),
        "bad_typ": _token(ed_private, {"alg": "Ed25519", "kid": kid, "typ": "JWT"}, b"{}"),
        "invalid_json": _token(ed_private, good_header, b'{"a":NaN}'),
        "not_json_object": _token(ed_private, good_header, b"[1]"),
    }
    for code, token in cases.items():
        header = jose_jws.extract_compact(token).headers()
        assert header["alg"] == "Ed25519"  # joserfc reads these tokens without complaint
        assert _code(token, _public(ed_private)) == code


@pytest.mark.parametrize("member", ["crit", "jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256", "b64"])
def test_forbidden_headers(ed_private: dict, member: str) -> None:
    header = {"alg": "Ed25519", "kid": ed_private["kid"], "typ": "lnx+json", member: ["x"]}
    assert _code(_token(ed_private, header, b"{}"), _public(ed_private)) == "forbidden_header"


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "PS256", "ES512"])
def test_algorithms_not_allowed(ed_private: dict, alg: str) -> None:
    header = {"alg": alg, "kid": ed_private["kid"], "typ": "lnx+json"}
    assert _code(_token(ed_private, header, b"{}"), _public(ed_private)) == "alg_not_allowed"


def test_non_canonical_base64url(ed_private: dict) -> None:
    token = sign_compact(PAYLOAD, JwkSigner(ed_private))
    assert _code(token + "=", _public(ed_private)) == "non_canonical_base64url"


# --- refusals: key pinning and signatures -------------------------------------------------------


def test_alg_is_pinned_by_the_registered_key(ed_private: dict, ec_private: dict) -> None:
    ed, p256 = _public(ed_private), _public(ec_private)
    es256_under_ed_kid = _token(ed_private, {"alg": "ES256", "kid": ed.kid, "typ": "lnx+json"}, b"{}")
    assert _code(es256_under_ed_kid, ed) == "alg_key_mismatch"
    eddsa_under_ec_kid = _token(ec_private, {"alg": "EdDSA", "kid": p256.kid, "typ": "lnx+json"}, b"{}")
    assert _code(eddsa_under_ec_kid, p256) == "alg_key_mismatch"


def test_registry_allows_only_the_keys_algorithms() -> None:
    registry = signature._registry(frozenset({"ES256"}), 100)
    assert registry.get_alg("ES256").name == "ES256"
    for alg in ("EdDSA", "Ed25519", "HS256", "none"):
        with pytest.raises(UnsupportedAlgorithmError):
            registry.get_alg(alg)


def test_unknown_kid(ed_private: dict) -> None:
    assert _code(sign_compact(PAYLOAD, JwkSigner(ed_private))) == "unknown_kid"


@pytest.mark.parametrize("family", ["Ed25519", "P-256"])
def test_bad_signature(family: str) -> None:
    private, other = generate_private_jwk(family), generate_private_jwk(family)
    token = sign_compact(PAYLOAD, JwkSigner(private))
    with pytest.raises(JwsError) as info:
        signature.verify_submission(token, lambda kid: _public(other))
    assert info.value.code == "bad_signature"
    header, payload, sig = token.split(".")
    tampered_payload = b64url_encode(json.dumps({**PAYLOAD, "issuer": "IND"}).encode())
    assert _code(f"{header}.{tampered_payload}.{sig}", _public(private)) == "bad_signature"


@pytest.mark.parametrize("length", [0, 63, 65, 200, 2000])
def test_signature_of_wrong_length(ed_private: dict, length: int) -> None:
    header, payload, _ = sign_compact(PAYLOAD, JwkSigner(ed_private)).split(".")
    token = f"{header}.{payload}.{b64url_encode(bytes(length))}"
    lookup = _lookup(_public(ed_private))
    assert _code(token, _public(ed_private)) == "bad_signature"
    with pytest.raises(JwsError) as core:
        verify_compact(token, lookup)
    assert core.value.code == "bad_signature"


def test_too_large_and_status(ed_private: dict) -> None:
    token = sign_compact({"remarks": "x" * 1000}, JwkSigner(ed_private))
    with pytest.raises(JwsError) as info:
        signature.verify_submission(token, _lookup(_public(ed_private)), max_size=500)
    assert info.value.code == "too_large"
    assert signature.status_for(info.value) == 413
    assert signature.status_for(JwsError("bad_signature", "x")) == 422


def test_large_documents_within_the_limit_verify(ed_private: dict) -> None:
    token = sign_compact({"remarks": "x" * 150_000}, JwkSigner(ed_private))
    assert (
        signature.verify_submission(token, _lookup(_public(ed_private))).payload["remarks"] == "x" * 150_000
    )


# --- the server and the core verifier agree ------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_server_and_core_agree_on_tampered_tokens(ec_private: dict, position: int, flip: int) -> None:
    token = bytearray(sign_compact(PAYLOAD, JwkSigner(ec_private)).encode())
    token[position % len(token)] ^= flip
    lookup = _lookup(_public(ec_private))
    with pytest.raises(JwsError) as server:
        signature.verify_submission(bytes(token), lookup)
    with pytest.raises(JwsError) as core:
        verify_compact(bytes(token), lookup)
    assert server.value.code == core.value.code
