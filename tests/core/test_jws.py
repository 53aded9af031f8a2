"""lnx_client.core.jws: strict compact JWS parsing, algorithm pinning, verification, signing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws as jose_jws
from joserfc.jwk import ECKey, OKPKey
from lnx_client.core.jwk import (
    PublicJwk,
    b64url_decode,
    b64url_encode,
    ecdsa_der_to_raw,
    generate_private_jwk,
    load_private_jwk,
    parse_public_jwk,
    public_jwk_from_private,
)
from lnx_client.core.jws import (
    JwkSigner,
    JwsError,
    ParsedJws,
    Signer,
    check_alg_for_key,
    parse_compact,
    sign_compact,
    verify_compact,
    verify_signature,
)

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
PAYLOAD = {"type": "pre-launch", "id": "IND-2026-0014", "issuer": "IND", "remarks": "Fenêtre ✓"}


@pytest.fixture(scope="module")
def rfc8037() -> dict:
    return json.loads((TESTDATA / "rfc8037_ed25519_jws.json").read_text(encoding="utf-8"))


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


def _segment(data: bytes) -> bytes:
    return b64url_encode(data).encode("ascii")


def _token(
    private: dict,
    header: dict | bytes | None = None,
    payload: dict | bytes | None = None,
    **header_members: Any,
) -> bytes:
    """A correctly signed token whose header / payload bytes are exactly as given (defects included)."""
    key = load_private_jwk(private)
    if header is None:
        header = {"alg": "Ed25519" if key.family == "Ed25519" else "ES256", "kid": key.kid, "typ": "lnx+json"}
    if isinstance(header, dict):
        header = json.dumps({**header, **header_members}, separators=(",", ":")).encode()
    if payload is None:
        payload = PAYLOAD
    if isinstance(payload, dict):
        payload = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    signing_input = _segment(header) + b"." + _segment(payload)
    return signing_input + b"." + _segment(key.sign(signing_input))


def _code(token: str | bytes, **kwargs: Any) -> str:
    with pytest.raises(JwsError) as info:
        parse_compact(token, **kwargs)
    return info.value.code


def _verify_code(token: str | bytes, *keys: PublicJwk) -> str:
    with pytest.raises(JwsError) as info:
        verify_compact(token, _lookup(*keys))
    return info.value.code


# --- RFC 8037 known answer ----------------------------------------------------------------------


def _parsed_without_lnx_rules(token: str) -> ParsedJws:
    """The RFC 8037 A.4 token has no typ/kid, so build ParsedJws by hand for the signature check."""
    header_segment, payload_segment, signature_segment = token.split(".")
    payload = b64url_decode(payload_segment)
    return ParsedJws(
        header=json.loads(b64url_decode(header_segment)),
        payload={},
        payload_bytes=payload,
        signing_input=f"{header_segment}.{payload_segment}".encode(),
        signature=b64url_decode(signature_segment),
        raw=token.encode(),
    )


def test_rfc8037_signature_verifies(rfc8037: dict) -> None:
    parsed = _parsed_without_lnx_rules(rfc8037["jws_compact"])
    assert parsed.header == rfc8037["protected_header"]
    assert parsed.payload_bytes.decode() == rfc8037["payload_text"]
    verify_signature(parsed, parse_public_jwk({k: v for k, v in rfc8037["jwk_private"].items() if k != "d"}))


def test_rfc8037_signature_is_reproduced_by_our_signer(rfc8037: dict) -> None:
    parsed = _parsed_without_lnx_rules(rfc8037["jws_compact"])
    assert load_private_jwk(rfc8037["jwk_private"]).sign(parsed.signing_input) == parsed.signature


def test_rfc8037_tampered_signature_fails(rfc8037: dict) -> None:
    parsed = _parsed_without_lnx_rules(rfc8037["jws_compact"])
    jwk = parse_public_jwk({k: v for k, v in rfc8037["jwk_private"].items() if k != "d"})
    tampered = ParsedJws(**{**parsed.__dict__, "signing_input": parsed.signing_input + b"x"})
    with pytest.raises(JwsError) as info:
        verify_signature(tampered, jwk)
    assert info.value.code == "bad_signature"


def test_rfc8037_token_lacks_the_lnx_header(rfc8037: dict) -> None:
    assert _code(rfc8037["jws_compact"]) == "bad_typ"


# --- round trips and interop --------------------------------------------------------------------


@pytest.mark.parametrize(("family", "alg"), [("Ed25519", None), ("Ed25519", "EdDSA"), ("P-256", None)])
def test_sign_and_verify_round_trip(family: str, alg: str | None) -> None:
    private = generate_private_jwk(family)
    signer = JwkSigner(private, alg=alg)
    token = sign_compact(PAYLOAD, signer)
    parsed = verify_compact(token, _lookup(_public(private)))
    assert parsed.payload == PAYLOAD
    assert parsed.header == {"alg": signer.alg, "kid": private["kid"], "typ": "lnx+json"}
    assert parsed.raw == token.encode()
    assert (parsed.alg, parsed.kid) == (signer.alg, private["kid"])


def test_default_algs() -> None:
    assert JwkSigner(generate_private_jwk("Ed25519")).alg == "Ed25519"
    assert JwkSigner(generate_private_jwk("P-256")).alg == "ES256"


def test_signed_payload_is_compact_utf8(ed_private: dict) -> None:
    token = sign_compact(PAYLOAD, JwkSigner(ed_private))
    header_segment, payload_segment, _ = token.split(".")
    assert (
        b64url_decode(payload_segment)
        == json.dumps(PAYLOAD, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert "Fenêtre".encode() in b64url_decode(payload_segment)
    assert b64url_decode(header_segment) == (
        b'{"alg":"Ed25519","kid":"' + ed_private["kid"].encode() + b'","typ":"lnx+json"}'
    )


def test_sign_bytes_payload(ed_private: dict) -> None:
    body = b'{"b":1,"a":2}'
    assert parse_compact(sign_compact(body, JwkSigner(ed_private))).payload_bytes == body


@pytest.mark.parametrize(
    "payload", [b"[1]", b'{"a":1,"a":2}', b"not json", {"x": float("nan")}, {"x": object()}]
)
def test_sign_refuses_what_parse_would_refuse(ed_private: dict, payload: Any) -> None:
    with pytest.raises(JwsError):
        sign_compact(payload, JwkSigner(ed_private))


@pytest.mark.parametrize(("family", "alg"), [("Ed25519", "ES256"), ("P-256", "EdDSA"), ("P-256", "Ed25519")])
def test_signer_refuses_alg_of_another_family(family: str, alg: str) -> None:
    with pytest.raises(JwsError) as info:
        JwkSigner(generate_private_jwk(family), alg=alg)
    assert info.value.code == "alg_key_mismatch"


class _HsmLikeSigner:
    """A Signer whose backend returns DER (as KMSs do); the protocol needs raw R || S."""

    alg = "ES256"

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        numbers = self._key.public_key().public_numbers()
        self.public = parse_public_jwk(
            {
                "kty": "EC",
                "crv": "P-256",
                "x": b64url_encode(numbers.x.to_bytes(32, "big")),
                "y": b64url_encode(numbers.y.to_bytes(32, "big")),
            }
        )
        self.kid = self.public.kid

    def sign(self, data: bytes) -> bytes:
        return ecdsa_der_to_raw(self._key.sign(data, ec.ECDSA(hashes.SHA256())))


def test_custom_signer_plugs_in() -> None:
    signer = _HsmLikeSigner()
    assert isinstance(signer, Signer)
    assert isinstance(JwkSigner(generate_private_jwk("Ed25519")), Signer)
    token = sign_compact(PAYLOAD, signer)
    assert verify_compact(token, _lookup(signer.public)).payload == PAYLOAD


def test_signer_with_forbidden_alg_is_refused() -> None:
    class Hmac:
        alg, kid = "HS256", "k"

        def sign(self, data: bytes) -> bytes:
            return b"\x00" * 32

    with pytest.raises(JwsError) as info:
        sign_compact(PAYLOAD, Hmac())
    assert info.value.code == "alg_not_allowed"


def test_pyjwt_tokens_are_accepted(ed_private: dict, ec_private: dict) -> None:
    for private, alg in ((ed_private, "EdDSA"), (ec_private, "ES256")):
        key = load_private_jwk(private)
        token = jwt.encode(
            PAYLOAD, key.private_key, algorithm=alg, headers={"kid": key.kid, "typ": "lnx+json"}
        )
        assert verify_compact(token, _lookup(key.public)).payload == PAYLOAD


def test_joserfc_tokens_are_accepted(ed_private: dict, ec_private: dict) -> None:
    for private, alg, key_cls in ((ed_private, "Ed25519", OKPKey), (ec_private, "ES256", ECKey)):
        header = {"alg": alg, "kid": private["kid"], "typ": "lnx+json"}
        body = json.dumps(PAYLOAD).encode()
        token = jose_jws.serialize_compact(header, body, key_cls.import_key(dict(private)), algorithms=[alg])
        assert verify_compact(token, _lookup(_public(private))).payload == PAYLOAD


def test_our_tokens_verify_with_pyjwt_and_joserfc(ed_private: dict, ec_private: dict) -> None:
    ed_token = sign_compact(PAYLOAD, JwkSigner(ed_private, alg="EdDSA"))
    assert jwt.decode(ed_token, _public(ed_private).public_key, algorithms=["EdDSA"]) == PAYLOAD
    ec_token = sign_compact(PAYLOAD, JwkSigner(ec_private))
    assert jwt.decode(ec_token, _public(ec_private).public_key, algorithms=["ES256"]) == PAYLOAD
    ed_rfc9864 = sign_compact(PAYLOAD, JwkSigner(ed_private))
    public = {k: v for k, v in public_jwk_from_private(ed_private).items()}
    obj = jose_jws.deserialize_compact(ed_rfc9864, OKPKey.import_key(public), algorithms=["Ed25519"])
    assert json.loads(obj.payload) == PAYLOAD


# --- refusals: framing and encoding -------------------------------------------------------------


def test_too_large(ed_private: dict) -> None:
    token = _token(ed_private)
    assert _code(token, max_size=len(token) - 1) == "too_large"
    assert parse_compact(token, max_size=len(token)).payload == PAYLOAD


@pytest.mark.parametrize("token", ["é.a.b", b"\xff.a.b", "a.b", "a.b.c.d", "a.b.c.d.e", "", "abc"])
def test_malformed(token: str | bytes) -> None:
    assert _code(token) == "malformed"


def test_not_text_or_bytes() -> None:
    assert _code(12) == "malformed"  # type: ignore[arg-type]


def _mutate_segment(token: bytes, index: int, change) -> bytes:
    parts = token.split(b".")
    parts[index] = change(parts[index])
    return b".".join(parts)


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize(
    "change",
    [
        lambda s: s + b"=" * (-len(s) % 4 or 4),  # padding
        lambda s: s[:-1] + b"+",  # standard-alphabet character
        lambda s: s[:-1] + b"/",
        lambda s: s + b" ",  # whitespace
        lambda s: s + b"\n",
        lambda s: s + b"A" * (1 if len(s) % 4 == 0 else 5 - len(s) % 4),  # impossible length
    ],
)
def test_non_canonical_base64url(ed_private: dict, index: int, change) -> None:
    assert _code(_mutate_segment(_token(ed_private), index, change)) == "non_canonical_base64url"


def _set_trailing_bits(segment: bytes) -> bytes:
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    assert len(segment) % 4 in (2, 3), "the segment must end in a partial group"
    last = alphabet.index(segment[-1])
    return segment[:-1] + alphabet[last | 1 : (last | 1) + 1]


def test_non_zero_trailing_bits_in_signature(ed_private: dict) -> None:
    token = _token(ed_private)  # 64-byte signature -> 86 characters, 2 bytes in the last group
    changed = _mutate_segment(token, 2, _set_trailing_bits)
    assert changed != token
    assert _code(changed) == "non_canonical_base64url"


def test_non_zero_trailing_bits_in_payload(ed_private: dict) -> None:
    payload = b'{"a":1}'  # 7 bytes -> 10 characters, a partial group
    token = _token(ed_private, payload=payload)
    assert _code(_mutate_segment(token, 1, _set_trailing_bits)) == "non_canonical_base64url"


def test_header_not_utf8(ed_private: dict) -> None:
    assert _code(_token(ed_private, header=b'{"alg":"Ed25519","typ":"lnx+json","kid":"\xff"}')) == "not_utf8"


def test_payload_not_utf8(ed_private: dict) -> None:
    assert _code(_token(ed_private, payload=b'{"a":"\xc3\x28"}')) == "not_utf8"


@pytest.mark.parametrize(
    "payload",
    [
        b"",  # detached / empty payload
        b"not json",
        b'{"a":1',
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b'{"a":[1,NaN]}',
        b'{"a":"\\ud800"}',  # lone surrogate (I-JSON)
        b'{"\\udfff":1}',
        b'\xef\xbb\xbf{"a":1}',  # byte order mark
        b'{"a":' + b"9" * 5000 + b"}",  # beyond int parsing limits
        b"[" * 100_000 + b"]" * 100_000,  # nesting beyond the parser's recursion limit
        b"{'a':1}",
        b'{"a":1} x',
    ],
)
def test_invalid_json_payload(ed_private: dict, payload: bytes) -> None:
    assert _code(_token(ed_private, payload=payload), max_size=10**6) == "invalid_json"


@pytest.mark.parametrize("payload", [b"[]", b"1", b'"text"', b"null", b"true"])
def test_payload_not_an_object(ed_private: dict, payload: bytes) -> None:
    assert _code(_token(ed_private, payload=payload)) == "not_json_object"


@pytest.mark.parametrize("header", [b"[]", b'"Ed25519"', b"null"])
def test_header_not_an_object(ed_private: dict, header: bytes) -> None:
    assert _code(_token(ed_private, header=header)) == "not_json_object"


def test_header_not_json(ed_private: dict) -> None:
    assert _code(_token(ed_private, header=b'{"alg":"Ed25519",}')) == "invalid_json"


@pytest.mark.parametrize(
    "payload",
    [
        b'{"id":"A","id":"B"}',
        b'{"window":{"start":"x","start":"y"}}',
        b'{"a":{"b":{"c":{"d":1,"d":1}}}}',
        b'{"impact_areas":[{"type":"Feature"},{"type":"Feature","type":"Point"}]}',
    ],
)
def test_duplicate_keys_in_payload_at_any_depth(ed_private: dict, payload: bytes) -> None:
    assert _code(_token(ed_private, payload=payload)) == "duplicate_json_key"


def test_duplicate_keys_in_header(ed_private: dict) -> None:
    kid = ed_private["kid"].encode()
    header = b'{"alg":"ES256","alg":"Ed25519","kid":"' + kid + b'","typ":"lnx+json"}'
    assert _code(_token(ed_private, header=header)) == "duplicate_json_key"


# --- refusals: header rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "alg",
    [
        None,
        "none",
        "None",
        "HS256",
        "HS512",
        "RS256",
        "PS256",
        "ES384",
        "ES256K",
        "eddsa",
        "Ed448",
        1,
        ["Ed25519"],
    ],
)
def test_alg_not_allowed(ed_private: dict, alg: Any) -> None:
    header = {"kid": ed_private["kid"], "typ": "lnx+json"}
    if alg is not None:
        header["alg"] = alg
    assert _code(_token(ed_private, header=header)) == "alg_not_allowed"


def test_alg_none_with_empty_signature(ed_private: dict) -> None:
    header = _segment(json.dumps({"alg": "none", "kid": ed_private["kid"], "typ": "lnx+json"}).encode())
    token = header + b"." + _segment(b'{"a":1}') + b"."
    assert _code(token) == "alg_not_allowed"


@pytest.mark.parametrize("typ", [None, "JWT", "LNX+JSON", "application/lnx+json", "lnx+json ", 1])
def test_bad_typ(ed_private: dict, typ: Any) -> None:
    header = {"alg": "Ed25519", "kid": ed_private["kid"]}
    if typ is not None:
        header["typ"] = typ
    assert _code(_token(ed_private, header=header)) == "bad_typ"


def test_missing_kid(ed_private: dict) -> None:
    assert _code(_token(ed_private, header={"alg": "Ed25519", "typ": "lnx+json"})) == "missing_kid"


@pytest.mark.parametrize("kid", ["", 42, None, ["k"], "k" * 257])
def test_invalid_kid(ed_private: dict, kid: Any) -> None:
    assert (
        _code(_token(ed_private, header={"alg": "Ed25519", "typ": "lnx+json", "kid": kid})) == "invalid_kid"
    )


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("crit", ["exp"]),
        ("jku", "https://attacker.example/jwks.json"),
        ("x5u", "https://attacker.example/cert.pem"),
        ("jwk", {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
        ("x5c", ["MIIB"]),
        ("x5t", "dGh1bWI"),
        ("x5t#S256", "dGh1bWI"),
        ("b64", False),
        ("b64", True),
    ],
)
def test_forbidden_header(ed_private: dict, member: str, value: Any) -> None:
    assert _code(_token(ed_private, **{member: value})) == "forbidden_header"


@pytest.mark.parametrize("member", ["cty", "zip", "iss", "nonce", "url"])
def test_unknown_header(ed_private: dict, member: str) -> None:
    assert _code(_token(ed_private, **{member: "x"})) == "unknown_header"


# --- refusals: key pinning and signatures -------------------------------------------------------


def test_alg_is_pinned_by_the_key(ed_private: dict, ec_private: dict) -> None:
    ed, p256 = _public(ed_private), _public(ec_private)
    check_alg_for_key({"alg": "EdDSA"}, ed)
    check_alg_for_key({"alg": "ES256"}, p256)
    for header, key in (
        ({"alg": "ES256"}, ed),
        ({"alg": "Ed25519"}, p256),
        ({"alg": "EdDSA"}, p256),
        ({}, ed),
    ):
        with pytest.raises(JwsError) as info:
            check_alg_for_key(header, key)
        assert info.value.code == "alg_key_mismatch"


def test_es256_header_with_ed25519_key_is_refused_before_verifying(ed_private: dict) -> None:
    ed = _public(ed_private)
    token = _token(ed_private, header={"alg": "ES256", "kid": ed.kid, "typ": "lnx+json"})
    assert _verify_code(token, ed) == "alg_key_mismatch"


def test_ed25519_header_with_p256_key_is_refused(ec_private: dict) -> None:
    p256 = _public(ec_private)
    token = _token(ec_private, header={"alg": "EdDSA", "kid": p256.kid, "typ": "lnx+json"})
    assert _verify_code(token, p256) == "alg_key_mismatch"


def test_unknown_kid(ed_private: dict) -> None:
    assert _verify_code(_token(ed_private)) == "unknown_kid"


@pytest.mark.parametrize("family", ["Ed25519", "P-256"])
def test_wrong_key_under_the_kid(family: str) -> None:
    signer, other = generate_private_jwk(family), generate_private_jwk(family)
    token = _token(signer)
    impostor = _public(other)
    with pytest.raises(JwsError) as info:
        verify_compact(token, lambda kid: impostor)
    assert info.value.code == "bad_signature"


@pytest.mark.parametrize("family", ["Ed25519", "P-256"])
@pytest.mark.parametrize(
    "change",
    [
        lambda sig: bytes([sig[0] ^ 1]) + sig[1:],
        lambda sig: sig[:-1] + bytes([sig[-1] ^ 0x80]),
        lambda sig: sig[:63],
        lambda sig: sig + b"\x00",
        lambda sig: b"",
        lambda sig: b"\x00" * 64,
        lambda sig: sig[32:] + sig[:32],
    ],
)
def test_bad_signature(family: str, change) -> None:
    private = generate_private_jwk(family)
    token = _mutate_segment(_token(private), 2, lambda s: _segment(change(b64url_decode(s))))
    assert _verify_code(token, _public(private)) == "bad_signature"


def test_tampered_payload_fails(ed_private: dict) -> None:
    token = _token(ed_private)
    other = _token(ed_private, payload={**PAYLOAD, "issuer": "PAK"})
    header, _, signature = token.split(b".")
    forged = b".".join([header, other.split(b".")[1], signature])
    assert _verify_code(forged, _public(ed_private)) == "bad_signature"


# --- properties ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_parse_raises_only_jws_error_on_random_input(data: bytes | str) -> None:
    try:
        parse_compact(data)
    except JwsError:
        pass


_B64URL_TEXT = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.+/", max_size=120
)


@settings(max_examples=300, deadline=None)
@given(_B64URL_TEXT)
def test_parse_raises_only_jws_error_on_base64ish_input(data: str) -> None:
    try:
        parse_compact(data)
    except JwsError:
        pass


@settings(max_examples=300, deadline=None)
@given(header=st.binary(max_size=80), payload=st.binary(max_size=80), signature=st.binary(max_size=80))
def test_parse_raises_only_jws_error_on_random_segments(
    header: bytes, payload: bytes, signature: bytes
) -> None:
    token = b".".join(_segment(part) for part in (header, payload, signature))
    try:
        parse_compact(token)
    except JwsError:
        pass


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=8), _JSON, max_size=5))
def test_any_json_object_payload_round_trips(ed_private: dict, payload: dict) -> None:
    try:
        token = sign_compact(payload, JwkSigner(ed_private))
    except JwsError as exc:  # only lone surrogates, which UTF-8 cannot carry
        assert exc.code == "invalid_json"
        return
    assert verify_compact(token, _lookup(_public(ed_private))).payload == payload


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_tampered_byte_fails(ed_private: dict, position: int, flip: int) -> None:
    token = bytearray(sign_compact(PAYLOAD, JwkSigner(ed_private)).encode())
    token[position % len(token)] ^= flip
    with pytest.raises(JwsError):
        verify_compact(bytes(token), _lookup(_public(ed_private)))
