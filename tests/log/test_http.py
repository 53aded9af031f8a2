"""The public log endpoints over HTTP (contract §6), verified with the pure core's verifiers."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient
from lnx_client.core import merkle, note, tiles
from lnx_client.core.checkpoint import Checkpoint, open_checkpoint

from app.log import lifecycle
from tests.core import reference_merkle as ref
from tests.log.support import ORIGIN, append, leaf_datas, wait_for_size

PROBLEM = "application/problem+json"


def _verifier(client: TestClient) -> note.Verifier:
    r = client.get("/v1/log/key")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    return note.Verifier.from_vkey(r.text)


def _open(client: TestClient, text: str) -> Checkpoint:
    checkpoint, _ = open_checkpoint(text, [], origin=ORIGIN, required=[_verifier(client)])
    return checkpoint


def _grow(client: TestClient, factory, datas: list[bytes], batch: int) -> list[Checkpoint]:
    """Append ``datas`` in batches, waiting for a checkpoint after each; return the checkpoints."""
    checkpoints = []
    for start in range(0, len(datas), batch):
        append(factory, datas[start : start + batch])
        size = min(len(datas), start + batch)
        checkpoints.append(_open(client, wait_for_size(client, size)))
    return checkpoints


def _b64(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def test_first_checkpoint_is_signed_at_start(client):
    r = client.get("/v1/log/checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    checkpoint = _open(client, r.text)
    assert (checkpoint.size, checkpoint.root_hash) == (0, merkle.EMPTY_ROOT)
    assert client.get("/v1/log/key").text.startswith(ORIGIN + "+")
    ready = client.get("/readyz").json()
    assert ready["checks"]["log_key"]["ok"] is True
    assert ready["checks"]["log_integrator"]["ok"] is True


def test_checkpoints_and_proofs_verify(client, factory):
    datas = leaf_datas(0, 40)
    checkpoints = _grow(client, factory, datas, 9)
    latest = checkpoints[-1]
    assert latest.size == 40 and latest.root_hash == ref.mth(datas)

    for cp in checkpoints:
        for index in sorted({0, cp.size // 3, cp.size - 1}):
            r = client.get("/v1/log/proof/inclusion", params={"index": index, "size": cp.size})
            assert r.status_code == 200, r.text
            assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
            body = r.json()
            assert (body["index"], body["size"]) == (index, cp.size)
            assert "checkpoint" not in body
            assert body["leaf_hash"] == merkle.leaf_hash(datas[index]).hex()
            merkle.verify_inclusion(
                merkle.leaf_hash(datas[index]), index, cp.size, _b64(body["hashes"]), cp.root_hash
            )

    r = client.get("/v1/log/proof/inclusion", params={"leaf_hash": merkle.leaf_hash(datas[17]).hex()})
    body = r.json()
    assert r.headers["cache-control"] == "no-cache"
    assert (body["index"], body["size"]) == (17, 40)
    assert _open(client, body["checkpoint"]) == latest
    merkle.verify_inclusion(merkle.leaf_hash(datas[17]), 17, 40, _b64(body["hashes"]), latest.root_hash)

    sizes = [Checkpoint(ORIGIN, 0, merkle.EMPTY_ROOT), *checkpoints]
    for i, old in enumerate(sizes):
        for new in sizes[i:]:
            r = client.get("/v1/log/proof/consistency", params={"first": old.size, "second": new.size})
            assert r.status_code == 200, r.text
            body = r.json()
            assert (body["first"], body["second"]) == (old.size, new.size)
            merkle.verify_consistency(old.size, new.size, _b64(body["hashes"]), old.root_hash, new.root_hash)


def test_wait_integrated_integrates_right_away(client, factory):
    [(index, _)] = append(factory, leaf_datas(0, 1))
    size = client.portal.call(lifecycle.wait_integrated, client.app, index, 5.0)
    assert size >= 1
    assert _open(client, client.get("/v1/log/checkpoint").text).size >= 1


def test_tiles_and_entry_bundles(client, factory):
    datas = leaf_datas(0, 600)
    _grow(client, factory, datas, 600)
    leaf_hashes = [merkle.leaf_hash(d) for d in datas]
    fetched: dict[tuple[int, int, int], bytes] = {}
    for level, index, width in tiles.tiles_for_size(600):
        r = client.get("/v1/log/" + tiles.tile_path(level, index, width))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/octet-stream"
        expected_cache = "public, max-age=31536000, immutable" if width == 256 else "public, max-age=60"
        assert r.headers["cache-control"] == expected_cache
        fetched[(level, index, width)] = r.content
    assert sorted(fetched) == [(0, 0, 256), (0, 1, 256), (0, 2, 88), (1, 0, 2)]
    assert fetched[(0, 1, 256)] == b"".join(leaf_hashes[256:512])
    assert fetched[(0, 2, 88)] == b"".join(leaf_hashes[512:])
    assert fetched[(1, 0, 2)] == ref.mth(datas[:256]) + ref.mth(datas[256:512])
    assert tiles.root_from_tiles(600, lambda lvl, idx, w: fetched[(lvl, idx, w)]) == ref.mth(datas)
    # Served twice: the second answer of a full tile comes from the cache, byte for byte.
    assert client.get("/v1/log/tile/0/001").content == fetched[(0, 1, 256)]
    assert client.get("/v1/log/tile/0/000.p/3").content == b"".join(leaf_hashes[:3])

    bundle = client.get("/v1/log/" + tiles.entries_path(2, 88))
    assert bundle.status_code == 200
    assert tiles.decode_entry_bundle(bundle.content, 88) == datas[512:]
    full = client.get("/v1/log/tile/entries/000")
    assert tiles.decode_entry_bundle(full.content, 256) == datas[:256]
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_entries_paging(client, factory):
    datas = leaf_datas(0, 1100)
    _grow(client, factory, datas, 1100)
    first = client.get("/v1/log/entries", params={"start": 0, "end": 1100}).json()
    assert len(first) == 1000  # capped page
    second = client.get("/v1/log/entries", params={"start": 1000}).json()
    assert [e["index"] for e in second] == list(range(1000, 1100))
    entries = first + second
    assert [e["leaf_data"].encode() for e in entries] == datas
    assert all(e["leaf_hash"] == merkle.leaf_hash(d).hex() for e, d in zip(entries, datas, strict=True))
    assert entries[0]["integrated_time"].endswith("Z")
    assert [e["index"] for e in client.get("/v1/log/entries?start=5&end=8").json()] == [5, 6, 7]


BAD_REQUESTS = [
    ("/v1/log/proof/inclusion", 400),
    ("/v1/log/proof/inclusion?index=abc", 400),
    ("/v1/log/proof/inclusion?index=-1", 400),
    ("/v1/log/proof/inclusion?index=01", 400),
    ("/v1/log/proof/inclusion?index=99999999999999999999", 400),
    ("/v1/log/proof/inclusion?index=9223372036854775808", 400),
    ("/v1/log/proof/inclusion?index=1&leaf_hash=" + "00" * 32, 400),
    ("/v1/log/proof/inclusion?leaf_hash=xyz", 400),
    ("/v1/log/proof/inclusion?leaf_hash=" + "00" * 32, 404),
    ("/v1/log/proof/inclusion?index=5&size=5", 400),
    ("/v1/log/proof/inclusion?index=5", 404),
    ("/v1/log/proof/inclusion?index=1&size=4", 404),
    ("/v1/log/proof/inclusion?index=1&size=9223372036854775807", 404),
    ("/v1/log/proof/consistency?first=1", 400),
    ("/v1/log/proof/consistency?first=5&second=0", 400),
    ("/v1/log/proof/consistency?first=2&second=5", 404),
    ("/v1/log/proof/consistency?first=0&second=6", 404),
    ("/v1/log/proof/consistency?first=x&second=5", 400),
    ("/v1/log/entries", 400),
    ("/v1/log/entries?start=3&end=3", 400),
    ("/v1/log/entries?start=3&end=2", 400),
    ("/v1/log/entries?start=5", 404),
    ("/v1/log/entries?start=1e3", 400),
    ("/v1/log/checkpoint?size=4", 404),
    ("/v1/log/checkpoint?size=-4", 400),
    ("/v1/log/tile/0/000", 404),
    ("/v1/log/tile/0/000.p/6", 404),
    ("/v1/log/tile/1/000.p/1", 404),
    ("/v1/log/tile/0/001.p/1", 404),
    ("/v1/log/tile/entries/000.p/6", 404),
    ("/v1/log/tile/0/x999/x999/x999/x999/x999/x999/999", 404),
    ("/v1/log/tile/0/0", 400),
    ("/v1/log/tile/0/000.p/256", 400),
    ("/v1/log/tile/0/000.p/0", 400),
    ("/v1/log/tile/0/x000/001", 400),
    ("/v1/log/tile/64/000", 400),
    ("/v1/log/tile/abc/000", 400),
    ("/v1/log/tile/", 400),
]


def test_malformed_and_out_of_range_requests_are_problems(client, factory):
    _grow(client, factory, leaf_datas(0, 5), 5)
    for url, status in BAD_REQUESTS:
        r = client.get(url)
        assert (r.status_code, r.headers["content-type"]) == (status, PROBLEM), (url, r.text)
        assert r.json()["status"] == status


def test_log_reads_need_no_token(client):
    for url in ("/v1/log/checkpoint", "/v1/log/key", "/v1/log/witnesses"):
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("path", ["tile/0/000.p/1", "entries?start=0"])
def test_reads_before_any_entry(client, path):
    assert client.get("/v1/log/" + path).status_code == 404
