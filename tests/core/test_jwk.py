"""lnx_client.core.jwk: accepted key families, refusals, RFC 7638 thumbprints, private keys."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st
from joserfc.jwk import ECKey, OKPKey
from lnx_client.core.jwk import (
    JwkError,
    PublicJwk,
    b64url_decode,
    b64url_encode,
    ecdsa_der_to_raw,
    ecdsa_raw_to_der,
    generate_private_jwk,
    load_private_jwk,
    parse_public_jwk,
    public_jwk_from_private,
    thumbprint,
)

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"


@pytest.fixture(scope="module")
def rfc8037() -> dict:
    return json.loads((TESTDATA / "rfc8037_ed25519_jws.json").read_text(encoding="utf-8"))


def _public(private: dict) -> dict:
    return {k: v for k, v in private.items() if k not in ("d", "kid")}


def _refusal(obj: object) -> JwkError:
    with pytest.raises(JwkError) as info:
        parse_public_jwk(obj)  # type: ignore[arg-type]
    return info.value


# --- known answers ------------------------------------------------------------------------------


def test_rfc8037_thumbprint_of_dict(rfc8037: dict) -> None:
    assert thumbprint(rfc8037["jwk_private"]) == rfc8037["jwk_thumbprint_sha256"]


def test_rfc8037_public_key_parses_with_thumbprint_as_kid(rfc8037: dict) -> None:
    jwk = parse_public_jwk(_public(rfc8037["jwk_private"]))
    assert jwk.kid == rfc8037["jwk_thumbprint_sha256"]
    assert thumbprint(jwk) == jwk.kid
    assert jwk.family == "Ed25519"
    assert jwk.allowed_algs == frozenset({"Ed25519", "EdDSA"})
    assert jwk.to_dict() == {**_public(rfc8037["jwk_private"]), "kid": jwk.kid}


def test_rfc8037_private_key_loads_and_derives_the_public_key(rfc8037: dict) -> None:
    key = load_private_jwk(rfc8037["jwk_private"])
    assert key.kid == rfc8037["jwk_thumbprint_sha256"]
    assert public_jwk_from_private(rfc8037["jwk_private"]) == {
        **_public(rfc8037["jwk_private"]),
        "kid": rfc8037["jwk_thumbprint_sha256"],
    }


@pytest.mark.parametrize("family", ["Ed25519", "P-256"])
def test_thumbprint_matches_joserfc(family: str) -> None:
    for _ in range(10):
        public = public_jwk_from_private(generate_private_jwk(family))
        members = {k: v for k, v in public.items() if k != "kid"}
        other = OKPKey.import_key(members) if family == "Ed25519" else ECKey.import_key(members)
        assert public["kid"] == other.thumbprint() == parse_public_jwk(members).kid


def test_thumbprint_uses_required_members_only_in_lexicographic_order() -> None:
    public = public_jwk_from_private(generate_private_jwk("P-256"))
    reordered = {
        "y": public["y"],
        "x": public["x"],
        "use": "sig",
        "kty": "EC",
        "crv": "P-256",
        "alg": "ES256",
    }
    assert thumbprint(reordered) == public["kid"]


def test_thumbprint_of_rsa_key_for_display() -> None:
    # RFC 7638 §3.1's example key.
    rsa_jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
        "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368"
        "QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2"
        "NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert thumbprint(rsa_jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert _refusal(rsa_jwk).code == "unsupported_key_type"


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "oth", "k"])
def test_private_members_are_refused_by_name(member: str) -> None:
    public = public_jwk_from_private(generate_private_jwk("Ed25519"))
    error = _refusal({**public, member: "AAAA"})
    assert (error.code, error.field) == ("private_key_material", member)


def test_a_full_private_jwk_is_refused(rfc8037: dict) -> None:
    error = _refusal(rfc8037["jwk_private"])
    assert (error.code, error.field) == ("private_key_material", "d")


def test_rsa_public_key_is_refused() -> None:
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_numbers()
    rsa_jwk = {
        "kty": "RSA",
        "n": b64url_encode(numbers.n.to_bytes(256, "big")),
        "e": b64url_encode(numbers.e.to_bytes(3, "big")),
    }
    error = _refusal(rsa_jwk)
    assert (error.code, error.field) == ("unsupported_key_type", "kty")


def test_symmetric_key_is_refused() -> None:
    assert _refusal({"kty": "oct", "k": "c2VjcmV0"}).code == "private_key_material"
    error = _refusal({"kty": "oct"})
    assert (error.code, error.field) == ("unsupported_key_type", "kty")


@pytest.mark.parametrize(
    ("kty", "crv"),
    [
        ("OKP", "Ed448"),
        ("OKP", "X25519"),
        ("EC", "P-384"),
        ("EC", "P-521"),
        ("EC", "secp256k1"),
        ("OKP", "P-256"),
    ],
)
def test_other_curves_are_refused(kty: str, crv: str) -> None:
    error = _refusal({"kty": kty, "crv": crv, "x": "AAAA", "y": "AAAA"})
    assert (error.code, error.field) == ("unsupported_curve", "crv")


def test_p384_key_is_refused() -> None:
    numbers = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-384",
        "x": b64url_encode(numbers.x.to_bytes(48, "big")),
        "y": b64url_encode(numbers.y.to_bytes(48, "big")),
    }
    assert _refusal(jwk).code == "unsupported_curve"


@pytest.mark.parametrize("missing", ["kty", "crv", "x"])
def test_missing_members_ed25519(missing: str) -> None:
    public = public_jwk_from_private(generate_private_jwk("Ed25519"))
    del public[missing]
    error = _refusal({k: v for k, v in public.items() if k != "kid"})
    assert (error.code, error.field) == ("missing_member", missing)


def test_missing_y_for_p256() -> None:
    public = public_jwk_from_private(generate_private_jwk("P-256"))
    error = _refusal({"kty": "EC", "crv": "P-256", "x": public["x"]})
    assert (error.code, error.field) == ("missing_member", "y")


def test_non_string_member_is_refused() -> None:
    error = _refusal({"kty": "OKP", "crv": "Ed25519", "x": 12})
    assert (error.code, error.field) == ("invalid_member", "x")


def test_not_an_object_is_refused() -> None:
    assert _refusal(["kty", "OKP"]).code == "invalid_jwk"


@pytest.mark.parametrize("name", ["x", "y"])
def test_coordinates_must_be_canonical_base64url(name: str) -> None:
    public = public_jwk_from_private(generate_private_jwk("P-256"))
    public.pop("kid")
    good = public[name]
    for bad in (good + "=", "+" + good[1:], "/" + good[1:], good[:-1] + "~", " " + good, good + "\n"):
        error = _refusal({**public, name: bad})
        assert (error.code, error.field) == ("invalid_coordinate", name)


def test_non_zero_trailing_bits_are_refused() -> None:
    x = public_jwk_from_private(generate_private_jwk("Ed25519"))["x"]
    # 32 bytes -> 43 characters; the last one carries 4 payload bits and 2 zero bits.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(x[-1])
    tweaked = x[:-1] + alphabet[last | 1]
    if tweaked == x:
        tweaked = x[:-1] + alphabet[last | 2]
    error = _refusal({"kty": "OKP", "crv": "Ed25519", "x": tweaked})
    assert (error.code, error.field) == ("invalid_coordinate", "x")


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_coordinate_length_is_exact(length: int) -> None:
    error = _refusal({"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(b"\x01" * length)})
    assert (error.code, error.field) == ("invalid_coordinate", "x")


def test_p256_point_off_the_curve_is_refused() -> None:
    public = public_jwk_from_private(generate_private_jwk("P-256"))
    y = int.from_bytes(b64url_decode(public["y"]), "big")
    off_curve = {
        "kty": "EC",
        "crv": "P-256",
        "x": public["x"],
        "y": b64url_encode(((y + 1) % 2**256).to_bytes(32, "big")),
    }
    error = _refusal(off_curve)
    assert (error.code, error.field) == ("invalid_coordinate", "x")


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"use": "enc"}, "invalid_use"),
        ({"key_ops": ["sign"]}, "invalid_key_ops"),
        ({"key_ops": "verify"}, "invalid_key_ops"),
        ({"key_ops": []}, "invalid_key_ops"),
        ({"alg": "ES256"}, "unsupported_alg"),
        ({"alg": "RS256"}, "unsupported_alg"),
        ({"kid": "my-key-2026"}, "kid_mismatch"),
    ],
)
def test_optional_members_must_fit(extra: dict, code: str) -> None:
    public = public_jwk_from_private(generate_private_jwk("Ed25519"))
    public.pop("kid")
    error = _refusal({**public, **extra})
    assert error.code == code
    assert error.field == next(iter(extra))


def test_fitting_optional_members_and_unknown_members_are_accepted_and_dropped() -> None:
    public = public_jwk_from_private(generate_private_jwk("Ed25519"))
    jwk = parse_public_jwk({**public, "use": "sig", "key_ops": ["verify"], "alg": "EdDSA", "x-note": "hello"})
    assert jwk.to_dict() == public


# --- families and private keys ------------------------------------------------------------------


def test_p256_public_jwk() -> None:
    private = generate_private_jwk("P-256")
    jwk = parse_public_jwk(public_jwk_from_private(private))
    assert isinstance(jwk, PublicJwk)
    assert (jwk.kty, jwk.crv, jwk.family) == ("EC", "P-256", "P-256")
    assert jwk.allowed_algs == frozenset({"ES256"})
    assert jwk.kid == private["kid"]
    assert set(jwk.to_dict()) == {"kty", "crv", "x", "y", "kid"}


@pytest.mark.parametrize("family", ["Ed25519", "P-256"])
def test_generated_private_jwk_round_trips(family: str) -> None:
    private = generate_private_jwk(family)
    assert "d" in private
    key = load_private_jwk(private)
    assert key.family == family
    assert key.kid == private["kid"] == thumbprint(private)
    assert "d" not in public_jwk_from_private(private)
    assert private["d"] not in repr(key)
    assert len(key.sign(b"signing input")) == 64


def test_generate_refuses_unknown_family() -> None:
    with pytest.raises(JwkError):
        generate_private_jwk("RSA")  # type: ignore[arg-type]


@pytest.mark.parametrize("family", ["Ed25519", "P-256"])
def test_private_key_must_belong_to_the_public_key(family: str) -> None:
    one, other = generate_private_jwk(family), generate_private_jwk(family)
    with pytest.raises(JwkError) as info:
        load_private_jwk({**one, "d": other["d"]})
    assert (info.value.code, info.value.field) == ("key_mismatch", "d")


@pytest.mark.parametrize("d", [None, "AAAA", "A" * 43 + "=", 5])
def test_invalid_private_scalar(d: object) -> None:
    private = generate_private_jwk("Ed25519")
    if d is None:
        private.pop("d")
    else:
        private["d"] = d  # type: ignore[assignment]
    with pytest.raises(JwkError) as info:
        load_private_jwk(private)
    assert info.value.field == "d"


def test_p256_private_scalar_out_of_range() -> None:
    private = generate_private_jwk("P-256")
    with pytest.raises(JwkError) as info:
        load_private_jwk({**private, "d": b64url_encode(b"\xff" * 32)})
    assert info.value.code == "invalid_private_key"


def test_private_jwk_matches_cryptography_export() -> None:
    private = generate_private_jwk("P-256")
    key = load_private_jwk(private)
    assert isinstance(key.private_key, ec.EllipticCurvePrivateKey)
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert ECKey.import_key(pem).as_dict(private=False)["x"] == private["x"]


# --- base64url and ECDSA encodings --------------------------------------------------------------


@given(st.binary(max_size=100))
def test_b64url_round_trip(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text
    assert b64url_decode(text) == data
    assert b64url_decode(text.encode("ascii")) == data


@pytest.mark.parametrize("text", ["QQ==", "QQ=", "QR", "Q", "a+b/", "a b", "é", "QUJD\n"])
def test_b64url_decode_is_strict(text: str) -> None:
    with pytest.raises(ValueError):
        b64url_decode(text)


def test_b64url_decode_refuses_non_ascii_bytes() -> None:
    with pytest.raises(ValueError):
        b64url_decode(b"\xff\xfe")


def test_ecdsa_encodings_round_trip() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.sign(b"x", ec.ECDSA(hashes.SHA256()))
    raw = ecdsa_der_to_raw(der)
    assert len(raw) == 64
    assert ecdsa_raw_to_der(raw) == der
    with pytest.raises(ValueError):
        ecdsa_raw_to_der(raw + b"\x00")


def _b64url_decode_by_reencoding(text: str | bytes) -> bytes:
    """The reference reading: decode, then refuse unless re-encoding gives the input back."""
    if isinstance(text, bytes):
        text = text.decode("ascii")
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise ValueError("not canonical")
    return data


@given(st.text(alphabet="ABCQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. \né", max_size=12))
def test_b64url_decode_is_the_reencoding_check(text: str) -> None:
    """The decoder's shortcuts (alphabet in one pass, trailing bits by table) accept exactly what
    decoding and re-encoding accepts, from text and from bytes alike."""
    for value in (text, text.encode("utf-8")):
        try:
            expected: bytes | None = _b64url_decode_by_reencoding(value)
        except (ValueError, UnicodeDecodeError):
            expected = None
        try:
            got: bytes | None = b64url_decode(value)
        except ValueError:
            got = None
        assert got == expected
