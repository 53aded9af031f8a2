"""GET /v1/declarations: the current declaration per (issuer, regime, year), as the caller may read it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.reports.support import YEAR, Seeded, accept, declaration, seed_year, set_rules


@pytest.fixture
def seeded(exchange) -> Seeded:  # type: ignore[no-untyped-def]
    return seed_year(exchange)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def listed(seeded: Seeded, actor: Any, **params: Any) -> dict[str, dict[str, Any]]:
    response = seeded.client.get("/v1/declarations", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return {d["id"]: d for d in response.json()["declarations"]}


def test_current_declarations_with_what_they_supersede(seeded: Seeded) -> None:
    ids = seeded.ids
    found = listed(seeded, seeded.fra, year=YEAR)
    assert sorted(found) == sorted([ids["D_IND_2"], ids["D_PAK"], ids["D_FRA"]])
    current = found[ids["D_IND_2"]]
    assert current["superseded"] == [ids["D_IND_1"]]
    assert current["year"] == YEAR and current["issuer"] == "IND" and current["regime"] == "hcoc"
    assert current["due"] == f"{YEAR + 1}-12-31" and current["on_time"] is True
    assert current["filed_at"] == current["integrated_time"]
    # A full document view: payload, JWS, acknowledgements, history.
    assert current["access"] == "full" and current["payload"]["launches"][0]["generic_class"] == "SLV"
    assert current["jws"].count(".") == 2 and current["acknowledgements"] == []
    assert when(current["first_filed_at"]) < when(current["filed_at"])

    assert sorted(listed(seeded, seeded.fra, issuer="IND")) == [ids["D_IND_2"]]
    assert listed(seeded, seeded.fra, regime="in-pk-2005") == {}
    assert listed(seeded, seeded.fra, year=YEAR - 1) == {}


def test_current_is_decided_among_what_the_caller_may_read(seeded: Seeded) -> None:
    ids, c = seeded.ids, seeded.client
    # IND files a third version for PAK's eyes only, and BRA a declaration for IND alone.
    newest = accept(c, seeded.ind, declaration("IND", YEAR, [], recipients=["PAK"]))
    bra = accept(c, seeded.bra, declaration("BRA", YEAR, [], recipients=["IND"]))

    for_pak = listed(seeded, seeded.pak, year=YEAR, issuer="IND")
    assert list(for_pak) == [newest]
    assert for_pak[newest]["superseded"] == [ids["D_IND_1"], ids["D_IND_2"]]
    # FRA cannot read the newest version, so it neither sees it nor learns that it exists.
    for_fra = listed(seeded, seeded.fra, year=YEAR)
    assert for_fra[ids["D_IND_2"]]["superseded"] == [ids["D_IND_1"]]
    assert newest not in str(for_fra) and bra not in for_fra
    assert bra in listed(seeded, seeded.ind, year=YEAR)
    # The entrusted auditor reads everything; the operator and other auditors read no declaration.
    assert set(listed(seeded, seeded.auditor, year=YEAR)) == {newest, ids["D_PAK"], ids["D_FRA"], bra}
    assert listed(seeded, seeded.exchange.operator, year=YEAR) == {}
    assert listed(seeded, seeded.outsider, year=YEAR) == {}


def test_timeliness_follows_the_regime_setting(seeded: Seeded) -> None:
    set_rules(seeded.exchange, declaration_deadline=None)
    found = listed(seeded, seeded.ind, year=YEAR)
    assert {(d["due"], d["on_time"]) for d in found.values()} == {(None, None)}
    response = seeded.client.get("/v1/declarations", params={"year": 3000}, headers=seeded.ind.headers)
    assert response.status_code == 422
