"""The audit's signature checks (``lnx_client._signature_pool``): the verdicts of ``verify_document``
plus the payload comparisons, inline and on a process pool over chunks, each failure naming its entry."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from lnx_client import VerificationError, verify_document
from lnx_client._signature_pool import SignatureChecks
from lnx_client.core.entry import format_integrated_time
from lnx_client.core.jwk import b64url_decode, b64url_encode, load_private_jwk
from lnx_client.core.jws import HeaderCache, JwsError, parse_compact

from tests.client.offline_log import T0, OfflineLog


@pytest.fixture(scope="module")
def log() -> OfflineLog:
    return OfflineLog(size=12)


def served(log: OfflineLog, index: int) -> dict[str, Any]:
    """Document ``index`` as the list endpoint serves it."""
    jws = log.jws[index]
    payload = json.loads(b64url_decode(jws.split(".")[1]))
    return {
        "id": payload["id"],
        "issuer": "IND",
        "type": payload["type"],
        "regime": payload["regime"],
        "log_index": index,
        "jws": jws,
        "payload": payload,
    }


def flip_signature(jws: str) -> str:
    signing_input, _, signature = jws.rpartition(".")
    raw = bytearray(b64url_decode(signature))
    raw[5] ^= 0x01
    return f"{signing_input}.{b64url_encode(bytes(raw))}"


def resign(jws: str, payload: dict[str, Any], private_jwk: dict[str, Any]) -> str:
    """A correctly signed JWS with ``jws``'s header and another payload."""
    header = jws.split(".")[0]
    signing_input = f"{header}.{b64url_encode(json.dumps(payload, separators=(',', ':')).encode())}"
    signature = load_private_jwk(private_jwk).sign(signing_input.encode())
    return f"{signing_input}.{b64url_encode(signature)}"


def tampered_documents(log: OfflineLog) -> tuple[list[tuple[int, dict[str, Any], str]], dict[int, str]]:
    """Every document served, some tampered with; and the failure code expected per index."""
    docs = [(i, served(log, i), format_integrated_time(log.times[i])) for i in range(log.size)]
    expected: dict[int, str] = {}
    docs[1][1]["jws"] = flip_signature(docs[1][1]["jws"])
    expected[1] = "jws-bad-signature"
    docs[3][1]["payload"] = {**docs[3][1]["payload"], "remarks": "added by the exchange"}
    expected[3] = "payload-mismatch"
    docs[5][1]["jws"] = docs[5][1]["jws"] + "="
    expected[5] = "jws-non-canonical-base64url"
    # A bad signature on a document whose served payload also differs: only the signature counts.
    docs[6][1]["jws"] = flip_signature(docs[6][1]["jws"])
    docs[6][1]["payload"] = {}
    expected[6] = "jws-bad-signature"
    docs[8][1]["regime"] = "in-pk-2005"
    expected[8] = "metadata-mismatch"
    # Signed by IND's key, but the payload names another issuer.
    other = {**docs[9][1]["payload"], "issuer": "PAK"}
    docs[9][1]["jws"] = resign(docs[9][1]["jws"], other, log.private_jwk)
    docs[9][1]["payload"] = other
    expected[9] = "issuer-mismatch"
    # Logged before the key was valid.
    docs[10] = (10, docs[10][1], format_integrated_time(T0 - timedelta(days=31)))
    expected[10] = "key-not-valid"
    return docs, expected


@pytest.mark.parametrize(
    ("workers", "threshold", "chunk"), [(1, 10**9, 1000), (2, 0, 1), (2, 0, 3), (2, 0, 1000)]
)
def test_each_failure_names_its_entry(log: OfflineLog, workers: int, threshold: int, chunk: int) -> None:
    docs, expected = tampered_documents(log)
    jwks = log.jwks()
    checks = SignatureChecks(workers, threshold, chunk=chunk)
    for index, doc, at in docs:
        checks.add(index, doc, at, jwks)
    verified, failures = 0, []
    for count, found in checks.results(None):
        verified += count
        failures.extend(found)
    assert sorted((f[2], f[0]) for f in failures) == sorted(expected.items())
    assert {f[2]: f[3] for f in failures} == {i: docs[i][1]["id"] for i in expected}
    # A mismatched payload or metadata does not undo a good signature; the rest do.
    not_verified = {
        i for i, code in expected.items() if code not in ("payload-mismatch", "metadata-mismatch")
    }
    assert verified == log.size - len(not_verified)


def test_same_verdicts_as_verify_document(log: OfflineLog) -> None:
    """The split checks (strict parse here, key and signature in a worker) fail exactly where, and
    with the same code and message as, verify_document does."""
    docs, _ = tampered_documents(log)
    jwks = log.jwks()
    checks = SignatureChecks(2, 0, chunk=4)
    for index, doc, at in docs:
        checks.add(index, doc, at, jwks)
    found = {f[2]: (f[0], f[1]) for _, failures in checks.results(None) for f in failures}
    for index, doc, at in docs:
        try:
            verify_document(doc["jws"], jwks, at=at, issuer=doc["issuer"])
        except VerificationError as exc:
            assert found[index] == (exc.code, exc.message)
        else:
            assert found.get(index, ("ok",))[0] in ("ok", "payload-mismatch", "metadata-mismatch")


def test_header_cache_gives_the_same_reading() -> None:
    log = OfflineLog(size=3)
    cache = HeaderCache(size=2)
    for jws in log.jws * 2:
        assert parse_compact(jws, header_cache=cache) == parse_compact(jws)
    assert len(cache) == 1
    parse_compact(log.jws[0], header_cache=cache).header["kid"] = "changed"
    assert parse_compact(log.jws[0], header_cache=cache).header["kid"] == log.private_jwk["kid"]
    # A refused header is not kept: it is refused again, with the same code.
    bad = b64url_encode(b'{"alg":"Ed25519","kid":"k","typ":"lnx+json","crit":[]}')
    token = bad + "." + log.jws[0].split(".", 1)[1]
    for _ in range(2):
        with pytest.raises(JwsError) as info:
            parse_compact(token, header_cache=cache)
        assert info.value.code == "forbidden_header"
    assert len(cache) == 1
    # The typ is part of the key: a header accepted as lnx+json is not accepted for another typ.
    with pytest.raises(JwsError) as info:
        parse_compact(log.jws[0], header_cache=cache, expected_typ="lnx-rotation+json")
    assert info.value.code == "bad_typ"
