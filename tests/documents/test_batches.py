"""Group commit seen from outside: submissions that share one batch (one transaction) behave exactly
as if they had been committed one after the other, and a refused one never harms the others.

The batch window is widened to a second and a half, and never closed early (``adaptive`` off),
so that submissions sent a few tens of milliseconds apart land in one batch, in the order they
were sent; each test checks that they did (one checkpoint covers them all, and it is the first
to cover any of them).
"""

from __future__ import annotations

import time

import pytest
from lnx_client.core import jwk as core_jwk
from lnx_client.core import jws as core_jws

from app.documents import repository
from tests.documents.builders import follow_up, pre_launch, sign
from tests.documents.support import (
    assert_problem,
    checkpoint_size_of,
    flip_signature_bit,
    post_jws,
    send_in_order,
)


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"submit_batch_wait_ms": 1500.0, "submit_batch_adaptive": False})


def test_a_chain_can_begin_and_grow_within_one_batch(world) -> None:
    notification = pre_launch("IND")
    update = pre_launch("IND", type_="pre-launch-update", references=notification["id"])
    cancellation = follow_up("IND", "cancellation", update["id"], reason="range safety")
    acknowledgement = follow_up("PAK", "acknowledgement", notification["id"], recipients=["IND"])
    notification_jws = sign(world.ind, notification)

    responses = send_in_order(
        world,
        [
            (world.ind, notification_jws),
            (world.ind, sign(world.ind, update)),
            (world.pak, sign(world.pak, acknowledgement)),
            (world.ind, notification_jws),  # the same bytes again: idempotent
            (world.ind, sign(world.ind, {**pre_launch("IND"), "id": notification["id"]})),  # same id
            (world.pak, sign(world.pak, {**acknowledgement, "id": acknowledgement["id"] + "b"})),
            (world.ind, sign(world.ind, cancellation)),
        ],
    )

    assert [r.status_code for r in responses] == [201, 201, 201, 200, 409, 409, 201]
    assert_problem(responses[4], 409, "duplicate-id")
    assert_problem(responses[5], 409, "already-acknowledged")
    created = [responses[i].json() for i in (0, 1, 2, 6)]
    assert [r["log_index"] for r in created] == [0, 1, 2, 3]
    assert {checkpoint_size_of(r) for r in created} == {4}, "not one batch: widen the window"
    assert responses[3].json()["log_index"] == 0

    shown = world.client.get(f"/v1/documents/{notification['id']}", headers=world.ind.headers).json()
    assert shown["status"] == "cancelled"
    assert shown["history"] == [notification["id"], update["id"], cancellation["id"]]
    assert [a["id"] for a in shown["acknowledgements"]] == [acknowledgement["id"]]


def test_a_refusal_in_a_batch_leaves_the_others_accepted(world) -> None:
    closed = pre_launch("IND")
    assert post_jws(world.client, world.ind, sign(world.ind, closed)).status_code == 201
    assert (
        post_jws(
            world.client, world.ind, sign(world.ind, follow_up("IND", "cancellation", closed["id"]))
        ).status_code
        == 201
    )

    responses = send_in_order(
        world,
        [
            (world.fra, sign(world.fra, pre_launch("FRA"))),
            (
                world.ind,
                sign(world.ind, pre_launch("IND", type_="pre-launch-update", references=closed["id"])),
            ),
            (world.pak, sign(world.pak, pre_launch("PAK", recipients=["ZZZ"]))),
            (world.fra, sign(world.fra, pre_launch("FRA"))),
        ],
    )

    assert [r.status_code for r in responses] == [201, 409, 422, 201]
    assert_problem(responses[1], 409, "chain-closed")
    assert [responses[i].json()["log_index"] for i in (0, 3)] == [2, 3]
    assert world.client.get("/v1/log/checkpoint", headers=world.ind.headers).text.splitlines()[1] == "4"


def test_a_batch_that_loses_a_race_is_replayed_one_by_one(world, monkeypatch) -> None:
    """Another worker stored one of the batch's ids between the batch's reads and its inserts: the
    whole batch's statement fails, and the batcher replays it submission by submission."""
    stored = sign(world.ind, pre_launch("IND"))
    assert post_jws(world.client, world.ind, stored).status_code == 201
    real_documents_read = repository.documents_read
    blind_once = {"left": 1}

    def documents_read_missing_the_race(ids):  # type: ignore[no-untyped-def]
        if blind_once["left"]:
            blind_once["left"] -= 1
            return real_documents_read([])  # as if the concurrent worker's commit came just after this read
        return real_documents_read(ids)

    monkeypatch.setattr(repository, "documents_read", documents_read_missing_the_race)
    fresh = sign(world.fra, pre_launch("FRA"))

    responses = send_in_order(world, [(world.fra, fresh), (world.ind, stored)])

    assert [r.status_code for r in responses] == [201, 200]
    assert blind_once["left"] == 0
    assert responses[0].json()["log_index"] == 1
    assert responses[1].json()["log_index"] == 0
    assert world.client.get("/v1/log/checkpoint", headers=world.ind.headers).text.splitlines()[1] == "2"


def test_each_submission_of_a_batch_gets_its_own_intake_refusal(world) -> None:
    """The batch parses, validates and verifies its submissions together (stage by stage); each
    refusal still answers only its own request."""
    stranger = core_jwk.generate_private_jwk("Ed25519")
    bad_payload = pre_launch("PAK")
    bad_payload["window"] = {"start": bad_payload["window"]["end"], "end": bad_payload["window"]["start"]}

    responses = send_in_order(
        world,
        [
            (world.ind, sign(world.ind, pre_launch("IND"))),
            (world.ind, flip_signature_bit(sign(world.ind, pre_launch("IND")))),
            (world.pak, sign(world.pak, bad_payload)),
            (world.fra, sign(world.fra, pre_launch("IND"))),  # signed by FRA, issued as IND
            (world.fra, core_jws.sign_compact(pre_launch("FRA"), core_jws.JwkSigner(stranger))),
            (world.ind, "not.a.jws"),
            (world.fra, sign(world.fra, pre_launch("FRA"))),
        ],
    )

    assert [r.status_code for r in responses] == [201, 422, 422, 403, 422, 422, 201]
    assert_problem(responses[1], 422, "jws-bad-signature")
    assert_problem(responses[2], 422, "invalid-payload")
    assert_problem(responses[3], 403, "issuer-mismatch")
    assert_problem(responses[4], 422, "unknown-kid")
    assert [responses[i].json()["log_index"] for i in (0, 6)] == [0, 1]
    assert {checkpoint_size_of(responses[i].json()) for i in (0, 6)} == {2}, "not one batch: widen the window"


def test_without_adaptation_every_batch_waits_its_whole_window(world) -> None:
    """LNX_SUBMIT_BATCH_ADAPTIVE=false (this module's setting): a lone submission after a lone one
    still waits the window out (``test_batch_window.py`` shows the adaptive default)."""
    assert post_jws(world.client, world.ind, sign(world.ind, pre_launch("IND"))).status_code == 201

    started = time.monotonic()
    assert post_jws(world.client, world.fra, sign(world.fra, pre_launch("FRA"))).status_code == 201
    assert time.monotonic() - started >= 1.5
