"""The client library against the real exchange (uvicorn on 127.0.0.1): every endpoint family."""

from __future__ import annotations

import asyncio
import base64
import itertools
from typing import Any

import pytest
from lnx_client import (
    AsyncClient,
    LnxApiError,
    build_acknowledgement,
    build_cancellation,
    build_pre_launch_update,
    sign_document,
    verify_receipt,
)
from lnx_client.core import merkle, tiles
from lnx_client.core.checkpoint import parse_checkpoint
from lnx_client.core.note import split_note

from tests.client.live import LiveExchange
from tests.client.support import next_id, pre_launch, submit


def test_submit_get_and_idempotency(live: LiveExchange) -> None:
    ind = live.add("IND")
    payload = pre_launch(ind)
    jws = sign_document(payload, ind.private_jwk or {})
    with live.client(ind.token) as client:
        first = client.submit(jws)
        again = client.submit(jws)
        assert first.created and not again.created
        assert again.log_index == first.log_index and again.leaf_hash == first.leaf_hash
        document = client.get_document(payload["id"])
        assert document.access == "full" and document.payload == payload
        assert document.history == [payload["id"]] and document.status == "scheduled"
        assert client.get_jws(payload["id"]) == jws
        verify_receipt(first, jws, client.log_key())

        other = sign_document({**payload, "remarks": "changed"}, ind.private_jwk or {})
        with pytest.raises(LnxApiError) as info:
            client.submit(other)
        assert info.value.status == 409 and info.value.code == "duplicate-id"
        with pytest.raises(LnxApiError) as info:
            client.get_document("IND-2026-9999")
        assert info.value.status == 404


def test_pagination_iterates_every_page(live: LiveExchange) -> None:
    ind = live.add("IND")
    ids = [submit(live, ind, pre_launch(ind)).id for _ in range(5)]
    with live.client(ind.token) as client:
        page = client.list_documents(page_size=2)
        assert len(page.documents) == 2 and page.next_page_token
        assert [d.id for d in client.iter_documents(page_size=2)] == ids
        assert [d.id for d in client.iter_documents(page_size=2, issuer="PAK")] == []
        assert [d.id for d in client.iter_documents(type=["pre-launch"], vehicle_class="SLV")] == ids


def test_chain_history_geojson_and_cap(live: LiveExchange) -> None:
    ind = live.add("IND")
    pak = live.add("PAK")
    first = pre_launch(ind)
    submit(live, ind, first)
    second = build_pre_launch_update(
        id=next_id("IND"),
        issuer="IND",
        regime="hcoc",
        references=first["id"],
        vehicle=first["vehicle"],
        window_start=first["window"]["start"],
        window_end=first["window"]["end"],
        launch_area=first["launch_area"],
        azimuth_deg=140,
        impact_areas=first["impact_areas"],
    )
    submit(live, ind, second)
    ack = build_acknowledgement(
        id=next_id("PAK"), issuer="PAK", regime="hcoc", references=second["id"], recipients=["IND"]
    )
    submit(live, pak, ack)
    with live.client(ind.token) as client:
        history = client.document_history(second["id"])
        assert [d.id for d in history] == [first["id"], second["id"]]
        geo = client.documents_geojson()
        assert geo["type"] == "FeatureCollection" and geo["features"]
        cap = client.document_cap(second["id"])
        assert "urn:oasis:names:tc:emergency:cap:1.2" in cap
        assert client.get_document(second["id"]).status == "updated"
    cancel = build_cancellation(
        id=next_id("IND"), issuer="IND", regime="hcoc", references=second["id"], reason="weather"
    )
    submit(live, ind, cancel)
    with live.client(ind.token) as client:
        assert client.get_document(first["id"]).status == "cancelled"


def test_participants_keys_tokens_and_regimes(live: LiveExchange) -> None:
    ind = live.add("IND")
    with live.operator as op:
        assert {p.code for p in op.list_participants()} >= {"ICC", "IND"}
        assert op.get_participant("IND").role == "state"
        jwks = op.get_jwks("IND")
        assert [k["kid"] for k in jwks.keys] == [ind.kid]
        tokens = op.list_tokens("IND")
        assert tokens and all(t.participant == "IND" for t in tokens)
        revoked = op.revoke_token(tokens[0].id)
        assert revoked.revoked_at is not None
        regime = op.get_regime("hcoc")
        assert "IND" in regime.members
        assert {r.id for r in op.list_regimes()} >= {"hcoc", "in-pk-2005"}
        key = op.revoke_key("IND", ind.kid, "compromised")
        assert key.status == "revoked"
    with live.client(ind.token) as client, pytest.raises(LnxApiError) as info:
        client.list_regimes()
    assert info.value.status == 401


def test_feed_poll_stream_and_async_client(live: LiveExchange) -> None:
    ind = live.add("IND")
    pak = live.add("PAK")
    ids = [submit(live, ind, pre_launch(ind)).id for _ in range(3)]
    with live.client(pak.token) as client:
        page = client.poll_feed(after="0", limit=2)
        assert [e.subject for e in page.events] == ids[:2]
        assert page.events[0].type == "org.lnx.document.pre-launch.v1"
        assert page.events[0].document is not None and page.events[0].document.id == ids[0]
        rest = client.poll_feed(after=page.next, wait=1)
        assert [e.subject for e in rest.events] == ids[2:]
        assert client.poll_feed(after=rest.next, wait=0.2).events == []
        streamed = list(itertools.islice(client.stream(), 3))
        assert [e.subject for e in streamed] == ids
        resumed = next(client.stream(last_event_id=streamed[0].id))
        assert resumed.subject == ids[1]

    async def main() -> tuple[list[str], list[str]]:
        async with AsyncClient(live.url, pak.token) as client:
            docs = [d.id async for d in client.iter_documents(page_size=2)]
            events = []
            async for event in client.follow(after="0", wait=1, timeout=5):
                events.append(event.subject)
                if len(events) == 3:
                    break
            return docs, events

    docs, events = asyncio.run(main())
    assert docs == ids and events == ids


def test_follower_resumes_from_its_cursor_file(live: LiveExchange, tmp_path: Any) -> None:
    ind = live.add("IND")
    pak = live.add("PAK")
    ids = [submit(live, ind, pre_launch(ind)).id for _ in range(4)]
    cursor = tmp_path / "feed.cursor"
    with live.client(pak.token) as client:
        follower = client.follow(cursor_file=cursor, wait=1, timeout=5)
        seen = []
        for event in follower:
            seen.append(event.subject)
            if len(seen) == 2:
                follower.commit()
                break
        assert seen == ids[:2]
        assert cursor.read_text().strip() == follower.cursor

        # A crash while handling the 3rd event: it was not committed, so it comes again.
        for event in client.follow(cursor_file=cursor, wait=1, timeout=5):
            assert event.subject == ids[2]
            break
        resumed = [e.subject for e in client.follow(cursor_file=cursor, wait=0.2, timeout=1)]
        assert resumed == ids[2:]
        # Everything handled: a new follower starts after the last event.
        assert [e.subject for e in client.follow(cursor_file=cursor, wait=0.2, timeout=0.5)] == []


def test_log_endpoints(live: LiveExchange) -> None:
    ind = live.add("IND")
    receipts = [submit(live, ind, pre_launch(ind)) for _ in range(3)]
    with live.client() as client:
        note_text = client.log_checkpoint()
        checkpoint = parse_checkpoint(split_note(note_text)[0])
        assert checkpoint.size >= 3
        assert client.log_key().startswith("lnx.test/log+")
        proof = client.inclusion_proof(1, size=checkpoint.size)
        leaf = bytes.fromhex(receipts[1].leaf_hash)
        merkle.verify_inclusion(
            leaf, 1, proof.size, [base64.b64decode(h) for h in proof.hashes], checkpoint.root_hash
        )
        assert client.inclusion_proof(leaf_hash=receipts[1].leaf_hash).index == 1
        consistency = client.consistency_proof(1, checkpoint.size)
        assert consistency.first == 1 and consistency.second == checkpoint.size
        entries = list(client.iter_log_entries())
        assert [e.index for e in entries] == list(range(checkpoint.size))
        assert entries[2].leaf_hash == receipts[2].leaf_hash
        tile = client.log_tile(0, 0, checkpoint.size)
        bundle = client.log_entry_bundle(0, checkpoint.size)
        assert tiles.root_from_level0_tiles(checkpoint.size, [tile]) == checkpoint.root_hash
        assert [merkle.leaf_hash(e) for e in tiles.decode_entry_bundle(bundle)] == tiles.split_tile(tile)
        assert client.list_witnesses() == []
