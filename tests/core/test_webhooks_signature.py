"""lnx_client.core.webhooks: Standard Webhooks v1 signing and verification."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import standardwebhooks
from hypothesis import given, settings
from hypothesis import strategies as st
from lnx_client.core.webhooks import (
    WebhookVerificationError,
    generate_secret,
    sign,
    signed_headers,
    verify,
)

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"


@pytest.fixture(scope="module")
def vector() -> dict:
    return json.loads((TESTDATA / "standard_webhooks_vector.json").read_text(encoding="utf-8"))


def _headers(vector: dict, signature: str | None = None) -> dict[str, str]:
    return {
        "webhook-id": vector["webhook_id"],
        "webhook-timestamp": str(vector["webhook_timestamp"]),
        "webhook-signature": signature if signature is not None else vector["webhook_signature"],
    }


def _code(vector: dict, headers: dict[str, str], body: bytes | str | None = None, **kwargs) -> str:
    kwargs.setdefault("now", vector["webhook_timestamp"])
    with pytest.raises(WebhookVerificationError) as info:
        verify(vector["secret"], headers, vector["body"].encode() if body is None else body, **kwargs)
    return info.value.code


# --- known answer and the reference library -----------------------------------------------------


def test_known_answer_signature(vector: dict) -> None:
    body = vector["body"].encode()
    assert (
        sign(vector["secret"], vector["webhook_id"], vector["webhook_timestamp"], body)
        == vector["webhook_signature"]
    )
    assert (
        sign(vector["secret"], vector["webhook_id"], vector["webhook_timestamp"], vector["body"])
        == vector["webhook_signature"]
    )


def test_known_answer_verifies(vector: dict) -> None:
    verify(vector["secret"], _headers(vector), vector["body"].encode(), now=vector["webhook_timestamp"])


def test_reference_library_agrees_on_the_vector(vector: dict) -> None:
    timestamp = datetime.fromtimestamp(vector["webhook_timestamp"], tz=UTC)
    reference = standardwebhooks.Webhook(vector["secret"])
    assert reference.sign(vector["webhook_id"], timestamp, vector["body"]) == vector["webhook_signature"]


def test_reference_library_verifies_our_deliveries() -> None:
    secret = generate_secret()
    body = '{"specversion":"1.0","id":"42","subject":"IND-2026-0014","data":{"remarks":"Fenêtre"}}'
    timestamp = int(datetime.now(tz=UTC).timestamp())
    headers = signed_headers(secret, "msg_42", timestamp, body.encode())
    assert standardwebhooks.Webhook(secret).verify(body.encode(), headers) == json.loads(body)


def test_we_verify_reference_library_deliveries() -> None:
    secret = generate_secret()
    body = '{"test": "ünïcode"}'
    now = datetime.now(tz=UTC)
    signature = standardwebhooks.Webhook(secret).sign("msg_1", now, body)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    verify(secret, headers, body.encode())


def test_unprefixed_and_unpadded_secrets_are_accepted(vector: dict) -> None:
    raw = vector["secret"].removeprefix("whsec_")
    assert sign(raw, "m", 1, b"x") == sign(vector["secret"], "m", 1, b"x")
    key = base64.b64decode(generate_secret().removeprefix("whsec_"))[:24]  # 24 bytes: no padding
    unpadded = "whsec_" + base64.b64encode(key).decode().rstrip("=")
    assert sign(unpadded, "m", 1, b"x") == standardwebhooks.Webhook(unpadded).sign(
        "m", datetime.fromtimestamp(1, tz=UTC), "x"
    )


# --- secrets and headers ------------------------------------------------------------------------


def test_generate_secret() -> None:
    secrets = {generate_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) >= 24


def test_signed_headers(vector: dict) -> None:
    headers = signed_headers(
        vector["secret"], vector["webhook_id"], vector["webhook_timestamp"], vector["body"].encode()
    )
    assert headers == _headers(vector)


@pytest.mark.parametrize("secret", ["whsec_", "whsec_!!!!", "whsec_abc$", "whsec_A"])
def test_invalid_secret(vector: dict, secret: str) -> None:
    with pytest.raises(WebhookVerificationError) as info:
        sign(secret, "m", 1, b"x")
    assert info.value.code == "invalid_secret"


# --- verification rules -------------------------------------------------------------------------


def test_several_signatures_one_valid(vector: dict) -> None:
    other = sign(
        generate_secret(), vector["webhook_id"], vector["webhook_timestamp"], vector["body"].encode()
    )
    for value in (
        f"{other} {vector['webhook_signature']}",
        f"{vector['webhook_signature']} {other}",
        f"v2,abc v1,not-base64!! junk {vector['webhook_signature']}",
    ):
        verify(
            vector["secret"],
            _headers(vector, value),
            vector["body"].encode(),
            now=vector["webhook_timestamp"],
        )


@pytest.mark.parametrize(
    "signature",
    [
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",  # one character off
        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",  # right MAC, unknown version
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",  # no version
        "v1,",
        "v1,g0hM9SsE",  # truncated
        "v1,ünïcode",
        "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ],
)
def test_no_matching_signature(vector: dict, signature: str) -> None:
    assert _code(vector, _headers(vector, signature)) == "no_matching_signature"


def test_tampered_body_id_or_timestamp_fail(vector: dict) -> None:
    assert _code(vector, _headers(vector), body=vector["body"].encode() + b" ") == "no_matching_signature"
    assert _code(vector, {**_headers(vector), "webhook-id": "msg_other"}) == "no_matching_signature"
    headers = {**_headers(vector), "webhook-timestamp": str(vector["webhook_timestamp"] + 1)}
    assert _code(vector, headers) == "no_matching_signature"


def test_wrong_secret_fails(vector: dict) -> None:
    with pytest.raises(WebhookVerificationError) as info:
        verify(generate_secret(), _headers(vector), vector["body"].encode(), now=vector["webhook_timestamp"])
    assert info.value.code == "no_matching_signature"


def test_timestamp_tolerance(vector: dict) -> None:
    ts = vector["webhook_timestamp"]
    body = vector["body"].encode()
    verify(vector["secret"], _headers(vector), body, now=ts + 300)
    verify(vector["secret"], _headers(vector), body, now=ts - 300)
    verify(vector["secret"], _headers(vector), body, now=ts + 3600, tolerance=3600)
    assert _code(vector, _headers(vector), now=ts + 301) == "timestamp_too_old"
    assert _code(vector, _headers(vector), now=ts - 301) == "timestamp_too_new"


def test_default_now_is_the_clock(vector: dict) -> None:
    # The vector is from 2021: far outside the tolerance of the real clock.
    with pytest.raises(WebhookVerificationError) as info:
        verify(vector["secret"], _headers(vector), vector["body"].encode())
    assert info.value.code == "timestamp_too_old"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header(vector: dict, missing: str) -> None:
    headers = _headers(vector)
    del headers[missing]
    assert _code(vector, headers) == "missing_header"
    assert _code(vector, {**headers, missing: ""}) == "missing_header"


@pytest.mark.parametrize(
    "timestamp", ["abc", "-5", "1614265330.0", "1e9", " 1614265330", "１６１４２６５３３０", "9" * 40]
)
def test_invalid_timestamp(vector: dict, timestamp: str) -> None:
    assert _code(vector, {**_headers(vector), "webhook-timestamp": timestamp}) == "invalid_timestamp"


def test_header_names_are_case_insensitive(vector: dict) -> None:
    headers = {name.title(): value for name, value in _headers(vector).items()}
    verify(vector["secret"], headers, vector["body"].encode(), now=vector["webhook_timestamp"])


@settings(max_examples=200, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "Webhook-Id", "x"]),
        st.text(max_size=60),
    ),
    body=st.binary(max_size=60),
)
def test_random_headers_raise_only_verification_errors(
    vector: dict, headers: dict[str, str], body: bytes
) -> None:
    try:
        verify(vector["secret"], headers, body, now=vector["webhook_timestamp"])
    except WebhookVerificationError:
        pass
