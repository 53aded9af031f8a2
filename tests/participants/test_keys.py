"""Keys: registration (Ed25519 and P-256 only), RFC 7638 kids, validity, revocation, JWKS, rotation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import rsa
from lnx_client.core import jwk as core_jwk
from lnx_client.core import jws as core_jws

from tests.conftest import TESTDATA


def test_rfc8037_key_gets_its_thumbprint_as_kid(exchange):
    vector = json.loads((TESTDATA / "rfc8037_ed25519_jws.json").read_text())
    exchange.add("IND", key=None)
    public = {k: v for k, v in vector["jwk_private"].items() if k != "d"}
    r = exchange.client.post(
        "/v1/participants/IND/keys", json={"jwk": public}, headers=exchange.operator.headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["kid"] == vector["jwk_thumbprint_sha256"]
    jwks = exchange.client.get("/v1/participants/IND/keys", headers=exchange.operator.headers).json()
    assert jwks["keys"][0]["kid"] == vector["jwk_thumbprint_sha256"]
    assert jwks["keys"][0]["status"] == "active"


def test_p256_accepted_rsa_symmetric_and_private_refused(exchange):
    exchange.add("IND", key=None)
    client, op = exchange.client, exchange.operator.headers
    p256 = core_jwk.public_jwk_from_private(core_jwk.generate_private_jwk("P-256"))
    assert client.post("/v1/participants/IND/keys", json={"jwk": p256}, headers=op).status_code == 201
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_numbers()
    rsa_jwk = {"kty": "RSA", "n": core_jwk.b64url_encode(numbers.n.to_bytes(256, "big")), "e": "AQAB"}
    private = core_jwk.generate_private_jwk("Ed25519")
    for bad, pointer_start in (
        (rsa_jwk, "/jwk"),
        ({"kty": "oct", "k": "c2VjcmV0"}, "/jwk"),
        (private, "/jwk/d"),
        ({"kty": "OKP", "crv": "X25519", "x": private["x"]}, "/jwk"),
    ):
        r = client.post("/v1/participants/IND/keys", json={"jwk": bad}, headers=op)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["pointer"].startswith(pointer_start)
    # The same key twice is a conflict, naming the kid.
    r = client.post("/v1/participants/IND/keys", json={"jwk": p256}, headers=op)
    assert r.status_code == 409 and r.json()["kid"] == core_jwk.thumbprint(p256)


def test_revocation_is_kept_in_the_history(exchange):
    ind = exchange.add("IND")
    client, op = exchange.client, exchange.operator.headers
    r = client.post(f"/v1/participants/IND/keys/{ind.kid}/revoke", json={"reason": "compromised"}, headers=op)
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    again = client.post(f"/v1/participants/IND/keys/{ind.kid}/revoke", json={"reason": "again"}, headers=op)
    assert again.status_code == 409
    key = client.get("/v1/participants/IND/keys", headers=op).json()["keys"][0]
    assert key["status"] == "revoked" and key["revocation_reason"] == "compromised" and key["revoked_at"]


def test_a_state_may_revoke_its_own_key_but_not_anothers(exchange):
    ind = exchange.add("IND")
    pak = exchange.add("PAK")
    r = exchange.client.post(
        f"/v1/participants/PAK/keys/{pak.kid}/revoke", json={"reason": "x"}, headers=ind.headers
    )
    assert r.status_code == 403
    r = exchange.client.post(
        f"/v1/participants/IND/keys/{ind.kid}/revoke", json={"reason": "lost"}, headers=ind.headers
    )
    assert r.status_code == 200


def test_validity_interval_is_checked(exchange):
    exchange.add("IND", key=None)
    now = datetime.now(UTC)
    public = core_jwk.public_jwk_from_private(core_jwk.generate_private_jwk("Ed25519"))
    r = exchange.client.post(
        "/v1/participants/IND/keys",
        json={
            "jwk": public,
            "not_before": now.isoformat(),
            "not_after": (now - timedelta(days=1)).isoformat(),
        },
        headers=exchange.operator.headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/not_after"


def _rotation(code: str, current_private: dict, new_private: dict, issued_at: datetime) -> dict:
    new_public = core_jwk.public_jwk_from_private(new_private)
    payload = {
        "participant": code,
        "action": "add-key",
        "jwk": new_public,
        "issued_at": issued_at.isoformat().replace("+00:00", "Z"),
    }
    request = core_jws.sign_compact(payload, core_jws.JwkSigner(current_private), typ="lnx-key-rotation+json")
    proof = core_jws.sign_compact(payload, core_jws.JwkSigner(new_private), typ="lnx-key-rotation+json")
    return {"request": request, "proof": proof}


def test_self_rotation_with_proof_of_possession(exchange):
    ind = exchange.add("IND")
    new_private = core_jwk.generate_private_jwk("Ed25519")
    body = _rotation("IND", ind.private_jwk, new_private, datetime.now(UTC))
    r = exchange.client.post("/v1/participants/IND/keys/rotate", json=body, headers=ind.headers)
    assert r.status_code == 201, r.text
    assert r.json()["kid"] == core_jwk.thumbprint(core_jwk.public_jwk_from_private(new_private))
    assert r.json()["added_by"] == f"self:{ind.kid}"
    # A replay adds nothing.
    assert (
        exchange.client.post("/v1/participants/IND/keys/rotate", json=body, headers=ind.headers).status_code
        == 409
    )


def test_rotation_refusals(exchange):
    ind = exchange.add("IND")
    pak = exchange.add("PAK")
    new_private = core_jwk.generate_private_jwk("Ed25519")
    client = exchange.client
    # Signed by a key that is not IND's.
    body = _rotation("IND", pak.private_jwk, new_private, datetime.now(UTC))
    assert client.post("/v1/participants/IND/keys/rotate", json=body, headers=ind.headers).status_code == 403
    # Proof not by the new key.
    body = _rotation("IND", ind.private_jwk, new_private, datetime.now(UTC))
    body["proof"] = _rotation("IND", ind.private_jwk, new_private, datetime.now(UTC))["request"]
    assert client.post("/v1/participants/IND/keys/rotate", json=body, headers=ind.headers).status_code == 422
    # Too old.
    body = _rotation("IND", ind.private_jwk, new_private, datetime.now(UTC) - timedelta(hours=1))
    assert client.post("/v1/participants/IND/keys/rotate", json=body, headers=ind.headers).status_code == 422
    # For someone else's account.
    body = _rotation("PAK", ind.private_jwk, new_private, datetime.now(UTC))
    assert client.post("/v1/participants/PAK/keys/rotate", json=body, headers=ind.headers).status_code == 403
