"""Witness registration and cosignatures (C2SP tlog-cosignature) over HTTP."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lnx_client.core import note
from lnx_client.core.checkpoint import open_checkpoint
from lnx_client.core.cosignature import CosignatureSigner, cosign

from tests.log.support import ORIGIN, append, leaf_datas, wait_for_size

TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def _witness(name: str = "witness.example/w1") -> CosignatureSigner:
    return CosignatureSigner(name, Ed25519PrivateKey.generate())


def _register(exchange, witness: CosignatureSigner, **extra) -> dict:
    r = exchange.client.post(
        "/v1/log/witnesses", json={"vkey": witness.vkey, **extra}, headers=exchange.operator.headers
    )
    assert r.status_code == 201, r.text
    return r.json()


def _cosigned(
    client, witness: CosignatureSigner, size: int | None = None, timestamp: int | None = None
) -> str:
    """What a witness sends: the checkpoint note it fetched, with its cosignature line added."""
    url = "/v1/log/checkpoint" + (f"?size={size}" if size is not None else "")
    signed = client.get(url).text
    text, _ = note.split_note(signed)
    line = cosign(text, witness, timestamp if timestamp is not None else int(time.time()))
    return signed + line


def test_register_and_list_witnesses(exchange):
    client = exchange.client
    witness = _witness()
    body = _register(exchange, witness, participant="ICC")
    assert body["name"] == "witness.example/w1"
    assert body["latest_cosigned_size"] is None
    listed = client.get("/v1/log/witnesses").json()
    assert [w["name"] for w in listed] == ["witness.example/w1"]

    op = exchange.operator.headers
    r = client.post("/v1/log/witnesses", json={"vkey": witness.vkey}, headers=op)
    assert r.status_code == 409
    r = client.post("/v1/log/witnesses", json={"vkey": "nonsense"}, headers=op)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/vkey"
    plain = note.Signer.from_skey(note.generate_signer("plain.example")[0])
    r = client.post("/v1/log/witnesses", json={"vkey": plain.vkey}, headers=op)
    assert r.status_code == 422  # an Ed25519 note key, not a cosignature (0x04) key
    other = _witness("witness.example/w2")
    r = client.post("/v1/log/witnesses", json={"vkey": other.vkey, "name": "else"}, headers=op)
    assert r.status_code == 422
    r = client.post("/v1/log/witnesses", json={"vkey": other.vkey, "participant": "NOPE"}, headers=op)
    assert r.status_code == 422
    assert client.post("/v1/log/witnesses", json={"vkey": other.vkey}).status_code == 401
    state = exchange.add("IND")
    assert (
        client.post("/v1/log/witnesses", json={"vkey": other.vkey}, headers=state.headers).status_code == 403
    )


def test_cosignature_is_accepted_and_served(exchange, factory):
    client = exchange.client
    witness = _witness()
    _register(exchange, witness)
    append(factory, leaf_datas(0, 3))
    wait_for_size(client, 3)

    stamp = int(time.time())
    r = client.post("/v1/log/cosignatures", content=_cosigned(client, witness, 3, stamp), headers=TEXT)
    assert r.status_code == 201, r.text
    assert r.json() == {"checkpoint_size": 3, "stored": [witness.name], "already_stored": []}
    served = client.get("/v1/log/checkpoint?size=3").text
    log_key = note.Verifier.from_vkey(client.get("/v1/log/key").text)
    checkpoint, opened = open_checkpoint(served, [witness.verifier()], origin=ORIGIN, required=[log_key])
    assert checkpoint.size == 3
    assert opened.signed_by(witness.verifier()) is not None
    assert client.get("/v1/log/witnesses").json()[0]["latest_cosigned_size"] == 3

    # The same cosignature again is fine (Ed25519 is deterministic); another one on the same
    # checkpoint is not; the served note (which carries it) counts as the same.
    again = client.post("/v1/log/cosignatures", content=_cosigned(client, witness, 3, stamp), headers=TEXT)
    assert again.status_code == 200 and again.json()["already_stored"] == [witness.name]
    other = client.post(
        "/v1/log/cosignatures", content=_cosigned(client, witness, 3, stamp + 1), headers=TEXT
    )
    assert other.status_code == 409 and other.json()["type"].endswith("already-cosigned")
    signed = client.get("/v1/log/checkpoint?size=3").text
    r = client.post("/v1/log/cosignatures", content=signed, headers=TEXT)
    assert r.status_code == 200 and r.json()["already_stored"] == [witness.name]


def test_stale_unknown_and_bad_cosignatures_are_refused(exchange, factory):
    client = exchange.client
    witness = _witness()
    _register(exchange, witness)
    append(factory, leaf_datas(0, 2))
    wait_for_size(client, 2)
    older = _cosigned(client, witness, 2)
    append(factory, leaf_datas(2, 2))
    wait_for_size(client, 4)
    now = int(time.time())
    assert (
        client.post(
            "/v1/log/cosignatures", content=_cosigned(client, witness, 4, now), headers=TEXT
        ).status_code
        == 201
    )

    def post(body: str, headers: dict[str, str] = TEXT) -> tuple[int, str]:
        r = client.post("/v1/log/cosignatures", content=body, headers=headers)
        if r.status_code >= 400:
            assert r.headers["content-type"] == "application/problem+json"
            return r.status_code, r.json()["type"].rsplit(":", 1)[1]
        return r.status_code, ""

    # An older checkpoint after a newer one: witnesses only move forward.
    assert post(older) == (409, "stale-cosignature")
    # A newer checkpoint but with a timestamp older than the stored one.
    append(factory, leaf_datas(4, 1))
    wait_for_size(client, 5)
    assert post(_cosigned(client, witness, 5, now - 100)) == (409, "stale-cosignature")
    # Dated far in the future.
    assert post(_cosigned(client, witness, 5, now + 3600)) == (422, "bad-cosignature")
    # A key nobody registered.
    assert post(_cosigned(client, _witness("stranger.example"), 5)) == (403, "unknown-witness")
    # A registered name with another key.
    assert post(_cosigned(client, _witness(witness.name), 5)) == (403, "unknown-witness")
    # A bad signature by the registered key.
    good = _cosigned(client, witness, 5)
    text, sigs = note.split_note(good)
    mine = sigs[-1]
    forged = note.NoteSignature(mine.name, mine.key_id, mine.signature[:8] + bytes(64))
    assert post(text + "\n" + sigs[0].line + "\n" + forged.line + "\n") == (422, "bad-cosignature")
    # A checkpoint size the log never published, and a different root for a published size.
    fake = text.replace("\n5\n", "\n6\n")
    line = cosign(fake, witness, now)
    assert post(fake + "\n" + line) == (404, "checkpoint-not-found")
    other_root = text.split("\n")
    other_root[2] = "A" * 43 + "="
    forged_text = "\n".join(other_root)
    assert post(forged_text + "\n" + cosign(forged_text, witness, now)) == (409, "checkpoint-mismatch")
    # Not a note, not text/plain.
    assert post("hello") == (400, "malformed-note")
    assert post(good, {"Content-Type": "application/json"})[0] == 415
    # The good one still goes through after all that.
    assert post(good) == (201, "")


def test_deactivated_witness_is_refused_but_still_served(exchange, factory):
    client = exchange.client
    witness = _witness()
    _register(exchange, witness)
    append(factory, leaf_datas(0, 1))
    wait_for_size(client, 1)
    assert (
        client.post("/v1/log/cosignatures", content=_cosigned(client, witness, 1), headers=TEXT).status_code
        == 201
    )
    r = client.post(f"/v1/log/witnesses/{witness.name}/deactivate", headers=exchange.operator.headers)
    assert r.status_code == 200 and r.json()["active"] is False
    append(factory, leaf_datas(1, 1))
    wait_for_size(client, 2)
    r = client.post("/v1/log/cosignatures", content=_cosigned(client, witness, 2), headers=TEXT)
    assert r.status_code == 403
    assert witness.name in client.get("/v1/log/checkpoint?size=1").text
    assert (
        client.post("/v1/log/witnesses/nobody/deactivate", headers=exchange.operator.headers).status_code
        == 404
    )
