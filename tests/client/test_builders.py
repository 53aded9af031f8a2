"""Every builder produces a document the real exchange accepts, signed by Ed25519, P-256 or an external Signer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from lnx_client import (
    JwkSigner,
    Signer,
    build_acknowledgement,
    build_annual_declaration,
    build_cancellation,
    build_post_launch,
    launch_count,
    launch_site,
    polygon_area,
    sign_document,
    vehicle,
    verify_document,
)
from lnx_client.core.jwk import b64url_encode, ecdsa_der_to_raw, generate_private_jwk, thumbprint
from lnx_client.core.jws import parse_compact

from tests.client.live import LiveExchange
from tests.client.support import next_id, pre_launch, submit


class KmsLikeSigner:
    """A key that never leaves its 'device': only ``sign`` is exposed, returning DER as KMSs do."""

    alg = "ES256"

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        numbers = self._key.public_key().public_numbers()
        self.public_jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(32, "big")),
            "y": b64url_encode(numbers.y.to_bytes(32, "big")),
        }
        self.kid = thumbprint(self.public_jwk)

    def sign(self, data: bytes) -> bytes:
        return ecdsa_der_to_raw(self._key.sign(data, ec.ECDSA(hashes.SHA256())))


def test_every_document_type_is_accepted(live: LiveExchange) -> None:
    ind = live.add("IND")
    pak = live.add("PAK")
    notification = pre_launch(
        ind, impact_areas=[polygon_area([(86, 8), (87, 8), (87, 9), (86, 9)], "drop zone")]
    )
    submit(live, ind, notification)
    ack = build_acknowledgement(id=next_id("PAK"), issuer="PAK", regime="hcoc", references=notification["id"])
    submit(live, pak, ack)
    cancel = build_cancellation(
        id=next_id("IND"), issuer="IND", regime="hcoc", references=notification["id"], reason="weather"
    )
    submit(live, ind, cancel)
    report = build_post_launch(
        id=next_id("IND"),
        issuer="IND",
        regime="hcoc",
        launched_at=datetime.now(UTC) - timedelta(hours=1),
        outcome="nominal",
        vehicle=vehicle("ballistic-missile", "SRBM"),
        remarks="unannounced test",
    )
    submit(live, ind, report)
    declaration = build_annual_declaration(
        id=next_id("IND"),
        issuer="IND",
        regime="hcoc",
        year=2025,
        ballistic_missile_policy="Defensive posture.",
        slv_policy="Civil space programme.",
        launches=[launch_count("space-launch-vehicle", "SLV", 5)],
        launch_sites=[launch_site(80.23, 13.72, "Sriharikota", "space-launch-vehicle")],
    )
    receipt = submit(live, ind, declaration)
    with live.client(ind.token) as client:
        assert client.get_document(receipt.id).payload == declaration
        assert client.get_document(notification["id"]).status == "cancelled"
        assert [d["id"] for d in client.declarations(year=2025)] == [receipt.id]


@pytest.mark.parametrize("family", ["Ed25519", "P-256"])
def test_jwk_signers(live: LiveExchange, family: str) -> None:
    party = live.add("IND", key=family)
    assert party.private_jwk is not None
    jws = sign_document(pre_launch(party), party.private_jwk)
    assert parse_compact(jws).alg == ("Ed25519" if family == "Ed25519" else "ES256")
    with live.client(party.token) as client:
        receipt = client.submit(jws)
        verify_document(jws, client.get_jwks("IND"), at=receipt.integrated_time, issuer="IND")


def test_an_external_signer(live: LiveExchange) -> None:
    party = live.add("IND", key=None)
    kms = KmsLikeSigner()
    assert isinstance(kms, Signer)
    with live.operator as op:
        op.register_key("IND", kms.public_jwk)
    jws = sign_document(pre_launch(party), kms)
    with live.client(party.token) as client:
        assert client.submit(jws).created


def test_sign_document_accepts_a_signer_or_a_jwk() -> None:
    key = generate_private_jwk("Ed25519")
    payload = {"type": "pre-launch", "id": "IND-2026-0001"}
    assert sign_document(payload, key) == sign_document(payload, JwkSigner(key))
