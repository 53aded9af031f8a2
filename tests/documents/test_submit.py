"""Submitting documents over HTTP (CONTRACT §3): receipts, offline proofs, idempotency, interoperability."""

from __future__ import annotations

import json
from datetime import datetime

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws as joserfc_jws
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry
from lnx_client.core import note
from lnx_client.core.entry import entry_bytes, entry_leaf_hash
from lnx_client.core.jwk import b64url_decode
from lnx_client.core.tlogproof import verify_tlog_proof

from tests.documents.builders import pre_launch, sign
from tests.documents.support import JOSE, assert_problem, checkpoint_size, post_jws

RECEIPT_KEYS = {"id", "type", "issuer", "log_index", "leaf_hash", "integrated_time", "findings", "proof"}


def verify_receipt(client, receipt: dict, jws_text: str) -> None:  # type: ignore[no-untyped-def]
    """What an auditor does offline: rebuild the leaf from the JWS and the receipt, check the proof."""
    integrated_time = datetime.fromisoformat(receipt["integrated_time"])
    leaf = entry_bytes(jws_text.encode("ascii"), integrated_time)
    verifier = note.Verifier.from_vkey(client.get("/v1/log/key").text.strip())
    checkpoint = verify_tlog_proof(receipt["proof"], leaf, verifier, origin="lnx.test/log")
    assert checkpoint.size > receipt["log_index"]


def test_accepted_document_gets_a_receipt_whose_proof_verifies_offline(world) -> None:
    payload = pre_launch("IND")
    token = sign(world.ind, payload)

    response = post_jws(world.client, world.ind, token)

    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/documents/{payload['id']}"
    receipt = response.json()
    assert set(receipt) == RECEIPT_KEYS
    assert (receipt["id"], receipt["type"], receipt["issuer"]) == (payload["id"], "pre-launch", "IND")
    assert receipt["findings"] == []
    integrated_time = datetime.fromisoformat(receipt["integrated_time"])
    assert entry_leaf_hash(token, integrated_time).hex() == receipt["leaf_hash"]
    verify_receipt(world.client, receipt, token)
    assert checkpoint_size(world.client) == receipt["log_index"] + 1


def test_receipt_proof_fails_for_other_bytes(world) -> None:
    token = sign(world.ind, pre_launch("IND"))
    receipt = post_jws(world.client, world.ind, token).json()
    other = sign(world.ind, pre_launch("IND"))

    with pytest.raises(ValueError, match="inclusion"):
        verify_receipt(world.client, receipt, other)


def test_json_body_is_accepted_too(world) -> None:
    token = sign(world.ind, pre_launch("IND"))

    response = world.client.post("/v1/documents", json={"jws": token}, headers=world.ind.headers)

    assert response.status_code == 201, response.text
    stored = world.client.get(
        response.headers["location"], headers={**world.ind.headers, "accept": "application/jose"}
    )
    assert stored.text == token


def test_each_receipt_extends_the_log(world) -> None:
    receipts = [
        post_jws(world.client, world.ind, sign(world.ind, pre_launch("IND"))).json() for _ in range(3)
    ]

    assert [r["log_index"] for r in receipts] == [0, 1, 2]
    assert len({r["leaf_hash"] for r in receipts}) == 3


def test_resubmitting_the_identical_jws_is_idempotent(world) -> None:
    token = sign(world.ind, pre_launch("IND"))
    first = post_jws(world.client, world.ind, token)
    size = checkpoint_size(world.client)

    again = post_jws(world.client, world.ind, token)
    as_json = world.client.post("/v1/documents", json={"jws": token}, headers=world.ind.headers)

    assert first.status_code == 201
    assert again.status_code == 200 and as_json.status_code == 200
    for field in ("id", "type", "issuer", "log_index", "leaf_hash", "integrated_time", "findings"):
        assert again.json()[field] == first.json()[field] == as_json.json()[field]
    assert again.headers["location"] == first.headers["location"]
    verify_receipt(world.client, again.json(), token)
    assert checkpoint_size(world.client) == size


def test_same_id_with_different_bytes_conflicts(world) -> None:
    payload = pre_launch("IND")
    post_jws(world.client, world.ind, sign(world.ind, payload))
    size = checkpoint_size(world.client)

    changed = {**payload, "remarks": "a second thought"}
    response = post_jws(world.client, world.ind, sign(world.ind, changed))

    assert_problem(response, 409, "duplicate-id")
    assert checkpoint_size(world.client) == size
    stored = world.client.get(f"/v1/documents/{payload['id']}", headers=world.ind.headers).json()
    assert "remarks" not in stored["payload"]


def test_the_eddsa_name_is_accepted_for_ed25519_keys(world) -> None:
    token = sign(world.ind, pre_launch("IND"), alg="EdDSA")

    assert post_jws(world.client, world.ind, token).status_code == 201


def test_document_signed_with_pyjwt_is_accepted(world) -> None:
    payload = pre_launch("IND")
    key = Ed25519PrivateKey.from_private_bytes(b64url_decode(world.ind.private_jwk["d"]))

    token = jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": world.ind.kid, "typ": "lnx+json"})

    # PyJWT writes exactly the members the contract allows (no default "typ": "JWT" left over).
    assert json.loads(b64url_decode(token.split(".")[0])) == {
        "alg": "EdDSA",
        "kid": world.ind.kid,
        "typ": "lnx+json",
    }
    response = post_jws(world.client, world.ind, token)
    assert response.status_code == 201, response.text
    verify_receipt(world.client, response.json(), token)


def test_document_signed_with_joserfc_is_accepted(world) -> None:
    payload = pre_launch("IND")
    token = joserfc_jws.serialize_compact(
        {"alg": "Ed25519", "kid": world.ind.kid, "typ": "lnx+json"},
        json.dumps(payload).encode(),
        OKPKey.import_key(world.ind.private_jwk),
        registry=JWSRegistry(algorithms=["Ed25519"]),
    )

    response = post_jws(world.client, world.ind, token)

    assert response.status_code == 201, response.text
    verify_receipt(world.client, response.json(), token)


def test_es256_with_a_p256_key_is_accepted(exchange) -> None:
    usa = exchange.add("USA", regimes=("hcoc",), key="P-256")
    token = sign(usa, pre_launch("USA"))
    assert json.loads(b64url_decode(token.split(".")[0]))["alg"] == "ES256"

    response = exchange.client.post("/v1/documents", content=token, headers={**usa.headers, **JOSE})

    assert response.status_code == 201, response.text
    verify_receipt(exchange.client, response.json(), token)


def test_the_stored_jws_is_byte_for_byte_what_was_sent(world) -> None:
    token = sign(world.ind, pre_launch("IND"))
    location = post_jws(world.client, world.ind, token).headers["location"]

    raw = world.client.get(location, headers={**world.ind.headers, "accept": "application/jose"})

    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/jose")
    assert raw.content == token.encode("ascii")
