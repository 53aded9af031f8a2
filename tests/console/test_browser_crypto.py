"""The console's own cryptography, run in Chromium against vectors published by others.

``verify.js`` (RFC 9162 inclusion, C2SP signed-note keys and signatures) and ``sign.js`` (RFC 7638
thumbprints, JWS signatures with WebCrypto) are checked on ``../shared/testdata/`` and against
the pure Python core, so that the browser's verdicts mean what the auditor's CLI's mean.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from lnx_client.core import jwk as core_jwk
from lnx_client.core import jws as core_jws
from lnx_client.core.note import generate_signer

from app.console import assets
from tests.conftest import TESTDATA
from tests.console.conftest import LAPTOP

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

_HELPERS = """() => {
window.fromHex = (h) => Uint8Array.from((h.match(/../g) || []).map((b) => parseInt(b, 16)));
window.leafHashHex = async (h) => {
  const data = fromHex(h), buf = new Uint8Array(data.length + 1);
  buf.set(data, 1);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
};
}"""


@pytest.fixture
def scripts_page(pages: Any) -> Any:
    page = pages(LAPTOP)
    page.goto("/console/login")
    page.add_script_tag(url=assets.url_for("verify.js"))
    page.add_script_tag(url=assets.url_for("sign.js"))
    page.evaluate(_HELPERS)  # test helpers only; CSP rightly refuses inline <script> tags
    page.wait_for_function("window.lnxVerify && window.lnxSign")
    return page


def _vectors(name: str) -> Any:
    return json.loads((TESTDATA / name).read_text())


def test_inclusion_proofs_verify_like_rfc_6962_and_tampering_fails(scripts_page: Any) -> None:
    vectors = _vectors("rfc6962_vectors.json")["inclusion"]
    results = scripts_page.evaluate(
        """async (vectors) => {
          const out = [];
          for (const v of vectors) {
            const leaf = await leafHashHex(v.leaf_hex), proof = v.proof_hex.map(fromHex), root = fromHex(v.root_hex);
            const ok = await lnxVerify.verifyInclusion(v.index, v.size, leaf, proof, root);
            const flipped = proof.map((p) => p.slice());
            if (flipped.length) { flipped[0][0] ^= 1; }
            const tampered = flipped.length ? await lnxVerify.verifyInclusion(v.index, v.size, leaf, flipped, root) : false;
            const wrongIndex = await lnxVerify.verifyInclusion(v.index + 1, v.size, leaf, proof, root);
            out.push([ok, tampered, wrongIndex]);
          }
          return out;
        }""",
        vectors,
    )
    assert len(results) == len(vectors) > 0
    assert all(ok for ok, _, _ in results)
    assert not any(tampered or wrong for _, tampered, wrong in results)


def test_signed_notes_open_with_their_verifier_keys(scripts_page: Any) -> None:
    vectors = _vectors("signed_note_vectors.json")["vectors"]
    results = scripts_page.evaluate(
        """async (vectors) => {
          const out = [];
          for (const v of vectors) {
            const key = await lnxVerify.parseVkey(v.vkey), note = lnxVerify.parseNote(v.note);
            const sig = note.signatures.find((s) => s.name === key.name && lnxVerify.hex(s.keyId) === lnxVerify.hex(key.keyId));
            const enc = new TextEncoder();
            const good = await lnxVerify.ed25519Verify(key.publicKey, sig.sig, enc.encode(note.text));
            const bad = await lnxVerify.ed25519Verify(key.publicKey, sig.sig, enc.encode(note.text + "x"));
            out.push([note.text === v.text, good, bad]);
          }
          return out;
        }""",
        vectors,
    )
    assert results == [[True, True, False]] * len(vectors)


def test_verifier_keys_whose_base64_holds_a_plus_parse(scripts_page: Any) -> None:
    """A key's base64 may contain '+', the separator of the key string's fields."""
    vkeys = []
    while len(vkeys) < 3:
        _skey, vkey = generate_signer("lnx.test/log")
        if "+" in vkey.split("+", 2)[2]:
            vkeys.append(vkey)
    parsed = scripts_page.evaluate(
        "async (vkeys) => Promise.all(vkeys.map(async (k) => lnxVerify.hex((await lnxVerify.parseVkey(k)).publicKey)))",
        vkeys,
    )
    assert parsed == [base64.b64decode(v.split("+", 2)[2])[1:].hex() for v in vkeys]


def test_browser_signatures_are_rfc_8037_and_verify_with_the_core(scripts_page: Any) -> None:
    vector = _vectors("rfc8037_ed25519_jws.json")
    head, body, signature = vector["jws_compact"].split(".")
    signed = scripts_page.evaluate(
        "async ([jwk, input]) => lnxSign.signWith(jwk, input)", [vector["jwk_private"], f"{head}.{body}"]
    )
    assert signed == {"signature": signature, "kid": vector["jwk_thumbprint_sha256"], "alg": "Ed25519"}

    private = core_jwk.generate_private_jwk("P-256")
    public = core_jwk.parse_public_jwk(core_jwk.public_jwk_from_private(private))
    header = core_jwk.b64url_encode(
        json.dumps({"alg": "ES256", "kid": public.kid, "typ": "lnx+json"}).encode()
    )
    payload = core_jwk.b64url_encode(b'{"type":"acknowledgement"}')
    signed = scripts_page.evaluate(
        "async ([jwk, input]) => lnxSign.signWith(jwk, input)", [private, f"{header}.{payload}"]
    )
    assert signed["kid"] == core_jwk.thumbprint(public) and signed["alg"] == "ES256"
    parsed = core_jws.parse_compact(f"{header}.{payload}.{signed['signature']}")
    core_jws.verify_signature(parsed, public)  # raises if the browser's ES256 signature is wrong
