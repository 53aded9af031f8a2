"""``["*"]`` documents (CONTRACT §2, "every member of the regime"): addressed to the members of the
regime when the document was accepted, read from the membership history (migration 0008) instead
of a stored recipient row per member.

Joining later does not open earlier notifications; leaving later does not close them; the
recipients shown, the acknowledgement rule and the compliance counts all follow the same rule.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app.db import make_engine
from tests.documents.builders import follow_up, pre_launch, sign
from tests.documents.support import assert_problem, post_jws, visible_ids


def _submit(world: Any, actor: Any, payload: dict[str, Any]) -> str:
    response = post_jws(world.client, actor, sign(actor, payload))
    assert response.status_code == 201, response.text
    return str(payload["id"])


def _recipient_rows(settings: Any, document_id: str) -> list[str]:
    engine = make_engine(settings.resolved_database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT participant_code FROM document_recipients WHERE document_id = :id "
                    "ORDER BY participant_code"
                ),
                {"id": document_id},
            )
            return [code for (code,) in rows]
    finally:
        engine.dispose()


def _recipients(world: Any, reader: Any, document_id: str) -> list[str]:
    response = world.client.get(f"/v1/documents/{document_id}", headers=reader.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["recipients"])


def _membership(world: Any, code: str, *, join: bool) -> None:
    if join:
        response = world.client.post(
            "/v1/regimes/hcoc/members", json={"participant": code}, headers=world.operator.headers
        )
    else:
        response = world.client.delete(f"/v1/regimes/hcoc/members/{code}", headers=world.operator.headers)
    assert response.status_code == 200, response.text


def test_a_broadcast_stores_no_row_per_member_but_names_its_recipients(world, settings):
    broadcast = _submit(world, world.ind, pre_launch("IND", recipients=["*"]))
    named = _submit(world, world.ind, pre_launch("IND", recipients=["PAK"]))

    assert _recipient_rows(settings, broadcast) == []
    assert _recipient_rows(settings, named) == ["PAK"]
    # The members of hcoc at acceptance but the issuer, as ["*"] has always been shown.
    assert _recipients(world, world.ind, broadcast) == ["FRA", "ICAO_APAC", "PAK"]
    assert _recipients(world, world.ind, named) == ["PAK"]


def test_a_state_that_joins_later_does_not_read_earlier_broadcasts(world):
    earlier = _submit(world, world.ind, pre_launch("IND", recipients=["*"]))
    deu = world.exchange.add("DEU", regimes=("hcoc",))
    later = _submit(world, world.ind, pre_launch("IND", recipients=["*"]))

    assert world.client.get(f"/v1/documents/{earlier}", headers=deu.headers).status_code == 404
    assert world.client.get(f"/v1/documents/{later}", headers=deu.headers).status_code == 200
    listed = visible_ids(world.client, deu)
    assert later in listed
    assert earlier not in listed
    assert "DEU" not in _recipients(world, world.ind, earlier)
    assert "DEU" in _recipients(world, world.ind, later)


def test_a_member_that_leaves_keeps_what_was_addressed_to_it(world):
    before = _submit(world, world.ind, pre_launch("IND", recipients=["*"]))
    _membership(world, "FRA", join=False)
    while_out = _submit(world, world.ind, pre_launch("IND", recipients=["*"]))
    _membership(world, "FRA", join=True)
    after = _submit(world, world.ind, pre_launch("IND", recipients=["*"]))

    seen = {
        d: world.client.get(f"/v1/documents/{d}", headers=world.fra.headers).status_code
        for d in (before, while_out, after)
    }
    assert seen == {before: 200, while_out: 404, after: 200}
    assert set(visible_ids(world.client, world.fra)) >= {before, after}
    assert while_out not in visible_ids(world.client, world.fra)
    assert "FRA" in _recipients(world, world.ind, before)
    assert "FRA" not in _recipients(world, world.ind, while_out)


def test_only_members_of_the_time_acknowledge_a_broadcast(world):
    notification = _submit(world, world.ind, pre_launch("IND", recipients=["*"]))
    deu = world.exchange.add("DEU", regimes=("hcoc",))

    late = post_jws(
        world.client, deu, sign(deu, follow_up("DEU", "acknowledgement", notification, recipients=["IND"]))
    )
    assert_problem(late, 422, "unknown-reference", "/references")
    _submit(world, world.pak, follow_up("PAK", "acknowledgement", notification, recipients=["IND"]))


def test_downgrade_writes_the_rows_and_upgrade_keeps_them_readable(world, settings):
    """Migration 0008 down: a broadcast gets the rows acceptance used to write; up again, those
    rows (a document of before 0008) read exactly as the membership history did."""
    from app import migrate

    notification = _submit(world, world.ind, pre_launch("IND", recipients=["*"]))
    expected = _recipients(world, world.ind, notification)
    url = settings.resolved_database_url

    migrate.downgrade(url, "0007")
    assert _recipient_rows(settings, notification) == expected == ["FRA", "ICAO_APAC", "PAK"]
    migrate.upgrade(url)

    assert _recipients(world, world.ind, notification) == expected
    assert world.client.get(f"/v1/documents/{notification}", headers=world.fra.headers).status_code == 200
