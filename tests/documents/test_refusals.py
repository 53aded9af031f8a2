"""Every way a submission is refused (CONTRACT §2, §3, §8), each with its problem document, and
each leaving the exchange exactly as it was: no document listed, no log entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lnx_client.core import jwk as core_jwk
from lnx_client.core.jwk import b64url_decode, b64url_encode

from tests.documents.builders import follow_up, pre_launch, sign, ts
from tests.documents.support import (
    JOSE,
    Snapshot,
    assert_problem,
    compact_json,
    craft,
    flip_signature_bit,
    post_jws,
)


def refused(world, before: Snapshot, response, status: int, code: str, pointer: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    """The submission was refused as expected and nothing was stored or logged."""
    problem = assert_problem(response, status, code, pointer)
    assert Snapshot.take(world.client, world.auditor) == before
    return problem


@pytest.fixture
def before(world) -> Snapshot:  # type: ignore[no-untyped-def]
    """One accepted document, so that "unchanged" is checked against a non-empty exchange."""
    assert post_jws(world.client, world.ind, sign(world.ind, pre_launch("IND"))).status_code == 201
    return Snapshot.take(world.client, world.auditor)


# --- the JWS itself --------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "PS256", "ES384", "EdDSA448"])
def test_algorithms_outside_the_allow_list_are_refused(world, before, alg: str) -> None:
    token = craft(
        world.ind.private_jwk, pre_launch("IND"), header={"alg": alg, "kid": world.ind.kid, "typ": "lnx+json"}
    )

    refused(world, before, post_jws(world.client, world.ind, token), 422, "jws-alg-not-allowed", "")


def test_unsigned_alg_none_token_is_refused(world, before) -> None:
    head = b64url_encode(compact_json({"alg": "none", "kid": world.ind.kid, "typ": "lnx+json"}))
    body = b64url_encode(compact_json(pre_launch("IND")))

    refused(world, before, post_jws(world.client, world.ind, f"{head}.{body}."), 422, "jws-alg-not-allowed")


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["exp"]},
        {"b64": False, "crit": ["b64"]},
        {"jku": "https://evil.example/jwks.json"},
        {"x5u": "https://evil.example/cert.pem"},
        {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}},
        {"x5c": ["MIIBszCCAVmgAwIBAgIUQ"]},
    ],
    ids=["crit", "b64-false", "jku", "x5u", "jwk", "x5c"],
)
def test_header_members_that_change_processing_or_carry_keys_are_refused(world, before, extra: dict) -> None:
    header = {"alg": "Ed25519", "kid": world.ind.kid, "typ": "lnx+json", **extra}
    token = craft(world.ind.private_jwk, pre_launch("IND"), header=header)

    refused(world, before, post_jws(world.client, world.ind, token), 422, "jws-forbidden-header")


def test_any_other_header_member_is_refused(world, before) -> None:
    header = {"alg": "Ed25519", "kid": world.ind.kid, "typ": "lnx+json", "cty": "json"}
    token = craft(world.ind.private_jwk, pre_launch("IND"), header=header)

    refused(world, before, post_jws(world.client, world.ind, token), 422, "jws-unknown-header")


def test_duplicate_member_in_the_header_is_refused(world, before) -> None:
    header = f'{{"alg":"Ed25519","kid":"{world.ind.kid}","typ":"lnx+json","alg":"Ed25519"}}'.encode()
    token = craft(world.ind.private_jwk, pre_launch("IND"), header=header)

    refused(world, before, post_jws(world.client, world.ind, token), 422, "jws-duplicate-json-key")


def test_duplicate_member_in_the_payload_is_refused(world, before) -> None:
    payload = pre_launch("IND")
    # Two readers must never see two documents: the second "id" would win in most JSON parsers.
    text = compact_json(payload).decode()
    duplicated = text[:-1] + ',"id":"IND-2026-9999"}'
    token = craft(world.ind.private_jwk, duplicated.encode())

    refused(world, before, post_jws(world.client, world.ind, token), 422, "jws-duplicate-json-key")


def test_payload_that_is_not_utf8_is_refused(world, before) -> None:
    payload = compact_json(pre_launch("IND"))[:-1] + b',"remarks":"\xff\xfe"}'
    token = craft(world.ind.private_jwk, payload)

    refused(world, before, post_jws(world.client, world.ind, token), 422, "jws-not-utf8")


def test_payload_that_is_not_a_json_object_is_refused(world, before) -> None:
    token = craft(world.ind.private_jwk, b'["pre-launch"]')

    refused(world, before, post_jws(world.client, world.ind, token), 422, "jws-not-json-object")


def test_padded_base64url_is_refused(world, before) -> None:
    head, body, signature = sign(world.ind, pre_launch("IND")).split(".")
    padded = body + "=" * (-len(body) % 4 or 4)

    refused(
        world,
        before,
        post_jws(world.client, world.ind, f"{head}.{padded}.{signature}"),
        422,
        "jws-non-canonical-base64url",
    )


def test_base64url_with_nonzero_trailing_bits_is_refused(world, before) -> None:
    head, body, signature = sign(world.ind, pre_launch("IND")).split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 64 bytes are 86 characters: the last one carries 2 bits of data and 4 bits that must be zero.
    last = alphabet[alphabet.index(signature[-1]) | 0b0001]
    other_spelling = signature[:-1] + last
    assert other_spelling != signature

    response = post_jws(world.client, world.ind, f"{head}.{body}.{other_spelling}")

    refused(world, before, response, 422, "jws-non-canonical-base64url")


@pytest.mark.parametrize("suffix", [".e30", ".", ".e30.e30"])
def test_extra_segments_are_refused(world, before, suffix: str) -> None:
    token = sign(world.ind, pre_launch("IND")) + suffix

    refused(world, before, post_jws(world.client, world.ind, token), 422, "jws-malformed")


@pytest.mark.parametrize("typ", [None, "JWT", "application/lnx+json", "LNX+JSON"])
def test_typ_missing_or_wrong_is_refused(world, before, typ: str | None) -> None:
    header = {"alg": "Ed25519", "kid": world.ind.kid}
    if typ is not None:
        header["typ"] = typ
    token = craft(world.ind.private_jwk, pre_launch("IND"), header=header)

    refused(world, before, post_jws(world.client, world.ind, token), 422, "jws-bad-typ")


# --- keys ------------------------------------------------------------------------------------------


def test_unknown_kid_is_refused(world, before) -> None:
    stranger = core_jwk.generate_private_jwk("Ed25519")

    response = post_jws(world.client, world.ind, craft(stranger, pre_launch("IND")))

    refused(world, before, response, 422, "unknown-kid")


def test_key_of_another_participant_is_refused(world, before) -> None:
    token = craft(world.pak.private_jwk, pre_launch("IND"))

    refused(world, before, post_jws(world.client, world.ind, token), 403, "key-not-owned")


def test_revoked_key_is_refused(world, before) -> None:
    # ``before`` submitted with this key, so the process's key cache holds it as valid: the write
    # transaction's own re-check is what refuses it (app/participants/keycache.py).
    revoked = world.client.post(
        f"/v1/participants/IND/keys/{world.ind.kid}/revoke",
        json={"reason": "compromised"},
        headers=world.operator.headers,
    )
    assert revoked.status_code == 200, revoked.text

    problem = refused(
        world,
        before,
        post_jws(world.client, world.ind, sign(world.ind, pre_launch("IND"))),
        403,
        "key-not-valid",
    )
    assert "revoked" in problem["detail"]


def _register_key(world, **interval: datetime) -> dict:  # type: ignore[no-untyped-def]
    private = core_jwk.generate_private_jwk("Ed25519")
    body = {"jwk": core_jwk.public_jwk_from_private(private), **{k: ts(v) for k, v in interval.items()}}
    response = world.client.post("/v1/participants/IND/keys", json=body, headers=world.operator.headers)
    assert response.status_code == 201, response.text
    return private


def test_expired_key_is_refused(world, before) -> None:
    now = datetime.now(UTC)
    expired = _register_key(world, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1))

    refused(
        world,
        before,
        post_jws(world.client, world.ind, craft(expired, pre_launch("IND"))),
        403,
        "key-not-valid",
    )


def test_key_not_yet_valid_is_refused(world, before) -> None:
    future = _register_key(world, not_before=datetime.now(UTC) + timedelta(days=1))

    refused(
        world,
        before,
        post_jws(world.client, world.ind, craft(future, pre_launch("IND"))),
        403,
        "key-not-valid",
    )


def test_header_alg_that_does_not_fit_the_key_is_refused(world, before) -> None:
    # An Ed25519 signature under an ES256 header: the key, not the header, decides the algorithm.
    token = craft(world.ind.private_jwk, pre_launch("IND"), alg="ES256")

    refused(world, before, post_jws(world.client, world.ind, token), 422, "jws-alg-key-mismatch")


def test_flipped_signature_bit_is_refused(world, before) -> None:
    token = flip_signature_bit(sign(world.ind, pre_launch("IND")))

    refused(world, before, post_jws(world.client, world.ind, token), 422, "jws-bad-signature")


def test_signature_over_other_bytes_is_refused(world, before) -> None:
    head, _body, signature = sign(world.ind, pre_launch("IND")).split(".")
    other_body = b64url_encode(compact_json(pre_launch("IND")))

    refused(
        world,
        before,
        post_jws(world.client, world.ind, f"{head}.{other_body}.{signature}"),
        422,
        "jws-bad-signature",
    )


def test_short_signature_is_refused(world, before) -> None:
    head, body, signature = sign(world.ind, pre_launch("IND")).split(".")
    short = b64url_encode(b64url_decode(signature)[:63])

    refused(
        world, before, post_jws(world.client, world.ind, f"{head}.{body}.{short}"), 422, "jws-bad-signature"
    )


# --- who may submit --------------------------------------------------------------------------------


def test_issuer_must_be_the_tokens_participant(world, before) -> None:
    token = sign(world.ind, pre_launch("IND"))

    refused(world, before, post_jws(world.client, world.pak, token), 403, "issuer-mismatch")


def test_operator_cannot_submit_even_with_a_submit_scope(world, before) -> None:
    token = sign(world.ind, pre_launch("IND"))

    refused(world, before, post_jws(world.client, world.operator, token), 403, "role-not-allowed")


def test_auditor_cannot_submit(world, before) -> None:
    token = sign(world.ind, pre_launch("IND"))

    refused(world, before, post_jws(world.client, world.hcoc_auditor, token), 403, "role-not-allowed")


def test_observer_submits_acknowledgements_only(world, before) -> None:
    notification = pre_launch("ICAO_APAC", generic_class="SLV")

    refused(
        world,
        before,
        post_jws(world.client, world.observer, sign(world.observer, notification)),
        403,
        "role-not-allowed",
    )

    ack = follow_up("ICAO_APAC", "acknowledgement", before.documents[0], recipients=["IND"])
    assert post_jws(world.client, world.observer, sign(world.observer, ack)).status_code == 201


def test_token_without_submit_scope_is_refused(world, before) -> None:
    reader = world.exchange.add("USA", regimes=("hcoc",), scopes="read")

    refused(
        world,
        before,
        post_jws(world.client, reader, sign(reader, pre_launch("USA"))),
        403,
        "scope-not-allowed",
    )


def test_no_token_is_refused(world, before) -> None:
    response = world.client.post("/v1/documents", content=sign(world.ind, pre_launch("IND")), headers=JOSE)

    refused(world, before, response, 401, "missing-token")


# --- the request body ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/jwt", "application/x-www-form-urlencoded"]
)
def test_wrong_content_type_is_refused(world, before, content_type: str) -> None:
    response = world.client.post(
        "/v1/documents",
        content=sign(world.ind, pre_launch("IND")),
        headers={**world.ind.headers, "content-type": content_type},
    )

    refused(world, before, response, 415, "unsupported-media-type")


def test_body_over_256_kib_is_refused(world, before) -> None:
    payload = pre_launch("IND")
    payload["remarks"] = "x" * (257 * 1024)

    refused(
        world,
        before,
        post_jws(world.client, world.ind, craft(world.ind.private_jwk, payload)),
        413,
        "payload-too-large",
    )


def test_malformed_json_body_is_refused(world, before) -> None:
    response = world.client.post(
        "/v1/documents",
        content=b'{"jws": ',
        headers={**world.ind.headers, "content-type": "application/json"},
    )

    refused(world, before, response, 400, "malformed-json")


@pytest.mark.parametrize("body", [{"jws": 1}, {"token": "x"}, ["x"], {"jws": "a.b.c", "extra": 1}])
def test_json_body_of_the_wrong_shape_is_refused(world, before, body: object) -> None:
    response = world.client.post("/v1/documents", json=body, headers=world.ind.headers)

    refused(world, before, response, 422, "validation-failed", "/jws")


def test_non_ascii_jose_body_is_refused(world, before) -> None:
    token = sign(world.ind, pre_launch("IND"))

    refused(
        world, before, post_jws(world.client, world.ind, token.encode() + "é".encode()), 422, "jws-not-ascii"
    )


# --- the payload -----------------------------------------------------------------------------------


def _invalid(world, before, payload: dict, pointer: str) -> None:  # type: ignore[no-untyped-def]
    response = post_jws(world.client, world.ind, sign(world.ind, payload))
    refused(world, before, response, 422, "invalid-payload", pointer)


def test_window_ending_before_it_starts(world, before) -> None:
    payload = pre_launch("IND")
    payload["window"] = {"start": payload["window"]["end"], "end": payload["window"]["start"]}

    _invalid(world, before, payload, "/window/end")


def test_generic_class_that_does_not_fit_the_category(world, before) -> None:
    payload = pre_launch("IND", generic_class="ICBM", category="space-launch-vehicle")

    _invalid(world, before, payload, "/vehicle/generic_class")


def test_self_intersecting_impact_area(world, before) -> None:
    payload = pre_launch("IND")
    bowtie = [[86.0, 8.0], [87.0, 9.0], [87.0, 8.0], [86.0, 9.0], [86.0, 8.0]]
    payload["impact_areas"] = [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [bowtie]}, "properties": {}}
    ]

    _invalid(world, before, payload, "/impact_areas/0/geometry/coordinates")


def test_unclosed_ring(world, before) -> None:
    payload = pre_launch("IND")
    ring = [[86.0, 8.0], [87.0, 8.0], [87.0, 9.0], [86.0, 9.0]]
    payload["impact_areas"] = [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {}}
    ]

    _invalid(world, before, payload, "/impact_areas/0/geometry/coordinates/0")


def test_id_must_start_with_the_issuer(world, before) -> None:
    _invalid(world, before, pre_launch("IND", doc_id="PAK-2026-0001"), "/id")


@pytest.mark.parametrize("value", ["2026-12-01T10:00:00+05:30", "2026-12-01T10:00:00", "2026-12-01"])
def test_times_must_be_utc(world, before, value: str) -> None:
    payload = pre_launch("IND")
    payload["issued_at"] = value

    _invalid(world, before, payload, "/issued_at")


def test_missing_member_and_unknown_member(world, before) -> None:
    payload = pre_launch("IND")
    del payload["direction"]
    payload["colour"] = "red"

    response = post_jws(world.client, world.ind, sign(world.ind, payload))

    problem = refused(world, before, response, 422, "invalid-payload", "/direction")
    assert "/colour" in [e["pointer"] for e in problem["errors"]]


def test_unknown_document_type(world, before) -> None:
    payload = {**pre_launch("IND"), "type": "pre-launch-rumour"}

    _invalid(world, before, payload, "/type")


# --- rules that need the database ------------------------------------------------------------------


def test_unknown_regime(world, before) -> None:
    response = post_jws(world.client, world.ind, sign(world.ind, pre_launch("IND", regime="atlantis-2031")))

    refused(world, before, response, 422, "unknown-regime", "/regime")


def test_issuer_not_a_member_of_the_regime(world, before) -> None:
    payload = pre_launch("FRA", regime="in-pk-2005", generic_class="SRBM", recipients=["IND"])

    refused(world, before, post_jws(world.client, world.fra, sign(world.fra, payload)), 403, "not-a-member")


def test_recipient_not_a_member_of_the_regime(world, before) -> None:
    payload = pre_launch("IND", regime="in-pk-2005", generic_class="SRBM", recipients=["PAK", "FRA"])

    response = post_jws(world.client, world.ind, sign(world.ind, payload))

    refused(world, before, response, 422, "recipient-not-a-member", "/recipients/1")


def test_a_member_that_left_the_regime_neither_submits_nor_is_addressed(world, before) -> None:
    left = world.client.delete("/v1/regimes/in-pk-2005/members/PAK", headers=world.operator.headers)
    assert left.status_code == 200
    addressed = pre_launch("IND", regime="in-pk-2005", generic_class="SRBM", recipients=["PAK"])
    refused(
        world,
        before,
        post_jws(world.client, world.ind, sign(world.ind, addressed)),
        422,
        "recipient-not-a-member",
    )
    issued = pre_launch("PAK", regime="in-pk-2005", generic_class="SRBM", recipients=["IND"])
    refused(world, before, post_jws(world.client, world.pak, sign(world.pak, issued)), 403, "not-a-member")
    # In hcoc PAK is still a member, and still submits there.
    receipt = post_jws(world.client, world.pak, sign(world.pak, pre_launch("PAK")))
    assert receipt.status_code == 201


def test_reference_to_a_missing_document(world, before) -> None:
    payload = follow_up("IND", "cancellation", "IND-2026-404404")

    refused(
        world,
        before,
        post_jws(world.client, world.ind, sign(world.ind, payload)),
        422,
        "unknown-reference",
        "/references",
    )


def test_reference_to_a_document_the_issuer_cannot_read_looks_missing(world, before) -> None:
    private = pre_launch("IND", recipients=["PAK"])
    assert post_jws(world.client, world.ind, sign(world.ind, private)).status_code == 201
    before = Snapshot.take(world.client, world.auditor)
    ack = follow_up("FRA", "acknowledgement", private["id"], recipients=["IND"])

    problem = refused(
        world,
        before,
        post_jws(world.client, world.fra, sign(world.fra, ack)),
        422,
        "unknown-reference",
        "/references",
    )
    missing = post_jws(
        world.client,
        world.fra,
        sign(world.fra, follow_up("FRA", "acknowledgement", "IND-2026-404404", recipients=["IND"])),
    )
    assert problem["errors"][0]["message"].replace(private["id"], "X") == missing.json()["errors"][0][
        "message"
    ].replace("IND-2026-404404", "X")


def test_follow_up_must_refer_to_a_notification(world, before) -> None:
    declaration = follow_up("IND", "annual-declaration", "unused")
    del declaration["references"]
    declaration.update(year=2025, ballistic_missile_policy="p", slv_policy="s", launches=[], launch_sites=[])
    assert post_jws(world.client, world.ind, sign(world.ind, declaration)).status_code == 201
    before = Snapshot.take(world.client, world.auditor)

    cancellation = follow_up("IND", "cancellation", declaration["id"])

    refused(
        world,
        before,
        post_jws(world.client, world.ind, sign(world.ind, cancellation)),
        422,
        "wrong-reference-type",
        "/references",
    )


def test_follow_up_of_another_issuers_notification(world, before) -> None:
    notification = before.documents[0]
    cancellation = follow_up("PAK", "cancellation", notification)

    refused(
        world,
        before,
        post_jws(world.client, world.pak, sign(world.pak, cancellation)),
        422,
        "not-own-chain",
        "/references",
    )


def test_follow_up_must_stay_in_its_regime(world, before) -> None:
    update = pre_launch(
        "IND",
        type_="pre-launch-update",
        regime="in-pk-2005",
        generic_class="SRBM",
        recipients=["PAK"],
        references=before.documents[0],
    )

    refused(
        world,
        before,
        post_jws(world.client, world.ind, sign(world.ind, update)),
        422,
        "regime-mismatch",
        "/regime",
    )


@pytest.mark.parametrize("closing", ["cancellation", "post-launch"])
def test_closed_chain_cannot_be_updated(world, before, closing: str) -> None:
    notification = before.documents[0]
    extra = (
        {
            "launched_at": ts(datetime.now(UTC)),
            "outcome": "nominal",
            "vehicle": {"category": "space-launch-vehicle", "generic_class": "SLV"},
        }
        if closing == "post-launch"
        else {}
    )
    assert (
        post_jws(
            world.client, world.ind, sign(world.ind, follow_up("IND", closing, notification, **extra))
        ).status_code
        == 201
    )
    before = Snapshot.take(world.client, world.auditor)

    update = pre_launch("IND", type_="pre-launch-update", references=notification)
    response = post_jws(world.client, world.ind, sign(world.ind, update))

    problem = refused(world, before, response, 409, "chain-closed")
    assert problem["chain"] == notification
    assert problem["chain_status"] == ("cancelled" if closing == "cancellation" else "launched")
    again = post_jws(world.client, world.ind, sign(world.ind, follow_up("IND", "cancellation", notification)))
    assert_problem(again, 409, "chain-closed")


def test_update_of_a_superseded_version_is_stale(world, before) -> None:
    original = before.documents[0]
    first = pre_launch("IND", type_="pre-launch-update", references=original)
    assert post_jws(world.client, world.ind, sign(world.ind, first)).status_code == 201
    before = Snapshot.take(world.client, world.auditor)

    stale = pre_launch("IND", type_="pre-launch-update", references=original)
    problem = refused(
        world, before, post_jws(world.client, world.ind, sign(world.ind, stale)), 409, "stale-reference"
    )

    assert problem["current"] == first["id"]


# --- acknowledgements ------------------------------------------------------------------------------


def test_acknowledgement_of_a_document_not_addressed_to_the_acknowledger(world, before) -> None:
    # FRA is a member of hcoc but not addressed: to FRA the document does not exist at all.
    private = pre_launch("IND", recipients=["PAK"])
    assert post_jws(world.client, world.ind, sign(world.ind, private)).status_code == 201
    before = Snapshot.take(world.client, world.auditor)

    fra_ack = follow_up("FRA", "acknowledgement", private["id"], recipients=["IND"])

    refused(
        world, before, post_jws(world.client, world.fra, sign(world.fra, fra_ack)), 422, "unknown-reference"
    )
    pak_ack = follow_up("PAK", "acknowledgement", private["id"], recipients=["IND"])
    assert post_jws(world.client, world.pak, sign(world.pak, pak_ack)).status_code == 201


def test_acknowledgement_of_a_version_addressed_to_others(world, before) -> None:
    # An update may change the recipients: IND is addressed by the update only.
    notification = pre_launch("PAK", recipients=["FRA"])
    assert post_jws(world.client, world.pak, sign(world.pak, notification)).status_code == 201
    update = pre_launch("PAK", type_="pre-launch-update", references=notification["id"], recipients=["IND"])
    assert post_jws(world.client, world.pak, sign(world.pak, update)).status_code == 201
    before = Snapshot.take(world.client, world.auditor)

    of_original = follow_up("IND", "acknowledgement", notification["id"], recipients=["PAK"])

    refused(
        world,
        before,
        post_jws(world.client, world.ind, sign(world.ind, of_original)),
        422,
        "unknown-reference",
    )
    of_update = follow_up("IND", "acknowledgement", update["id"], recipients=["PAK"])
    assert post_jws(world.client, world.ind, sign(world.ind, of_update)).status_code == 201


def test_acknowledgement_once_per_recipient(world, before) -> None:
    notification = before.documents[0]
    first = follow_up("PAK", "acknowledgement", notification, recipients=["IND"])
    assert post_jws(world.client, world.pak, sign(world.pak, first)).status_code == 201
    before = Snapshot.take(world.client, world.auditor)

    second = follow_up("PAK", "acknowledgement", notification, recipients=["IND"])

    refused(
        world, before, post_jws(world.client, world.pak, sign(world.pak, second)), 409, "already-acknowledged"
    )


def test_own_document_is_not_acknowledged(world, before) -> None:
    ack = follow_up("IND", "acknowledgement", before.documents[0], recipients=["PAK"])

    refused(
        world,
        before,
        post_jws(world.client, world.ind, sign(world.ind, ack)),
        422,
        "self-acknowledgement",
        "/references",
    )


def test_acknowledgement_must_go_to_the_documents_issuer(world, before) -> None:
    ack = follow_up("PAK", "acknowledgement", before.documents[0], recipients=["FRA"])

    refused(
        world,
        before,
        post_jws(world.client, world.pak, sign(world.pak, ack)),
        422,
        "missing-recipient",
        "/recipients",
    )


def test_acknowledgements_are_not_acknowledged(world, before) -> None:
    ack = follow_up("PAK", "acknowledgement", before.documents[0], recipients=["IND"])
    assert post_jws(world.client, world.pak, sign(world.pak, ack)).status_code == 201
    before = Snapshot.take(world.client, world.auditor)

    ack_of_ack = follow_up("IND", "acknowledgement", ack["id"], recipients=["PAK"])

    refused(
        world,
        before,
        post_jws(world.client, world.ind, sign(world.ind, ack_of_ack)),
        422,
        "wrong-reference-type",
        "/references",
    )


def test_revocation_between_intake_and_commit_is_honoured(world, before) -> None:
    """Intake verifies outside the write transaction; the write transaction re-checks the key."""
    from app.auth.service import Principal
    from app.db import session_scope, utcnow
    from app.documents import intake, service
    from app.errors import Forbidden
    from app.participants import service as participants_service

    factory = world.client.app.state.sessionmaker
    principal = Principal(code="IND", role="state", token_id="t", scopes=frozenset({"read", "submit"}))
    for session in session_scope(factory, read_only=True):
        taken = intake.take_in(
            session, principal, sign(world.ind, pre_launch("IND")), max_size=262144, now=utcnow()
        )
    for session in session_scope(factory):
        participants_service.revoke_key(session, "IND", world.ind.kid, "compromised")

    with pytest.raises(Forbidden) as raised:
        for session in session_scope(factory):
            service.accept(session, taken, utcnow())

    assert raised.value.code == "key-not-valid"
    assert Snapshot.take(world.client, world.auditor) == before
