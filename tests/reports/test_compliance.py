"""GET /v1/reports/compliance: every figure of a seeded year, who sees what, and the CSV form."""

from __future__ import annotations

import csv
import io
import statistics
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.reports.support import YEAR, Seeded, ack_delays, integrated_time, seed_year, set_rules

DUE = f"{YEAR + 1}-12-31"


@pytest.fixture
def seeded(exchange) -> Seeded:  # type: ignore[no-untyped-def]
    return seed_year(exchange)


def report(seeded: Seeded, actor: Any, **params: Any) -> dict[str, Any]:
    response = seeded.client.get(
        "/v1/reports/compliance", params={"year": YEAR, **params}, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def rows(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["regime"], row["state"]): row for row in body["rows"]}


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def median_of(seeded: Seeded, notifications: list[str]) -> float:
    return round(statistics.median(ack_delays(seeded, notifications)), 3)


def figures(declared: int, notified: int, reported: int, matches: bool | None) -> dict[str, Any]:
    return {"declared": declared, "notified": notified, "reported": reported, "matches": matches}


def test_a_states_own_row_has_every_figure(seeded: Seeded) -> None:
    ids, c = seeded.ids, seeded.client
    row = rows(report(seeded, seeded.ind, regime="hcoc"))[("hcoc", "IND")]
    assert row["access"] == "full"

    declaration = row["declaration"]
    assert when(declaration.pop("filed_at")) == integrated_time(c, seeded.ind, ids["D_IND_2"])
    assert when(declaration.pop("first_filed_at")) == integrated_time(c, seeded.ind, ids["D_IND_1"])
    assert declaration == {
        "status": "on-time",
        "due": DUE,
        "on_time": True,
        "id": ids["D_IND_2"],
        "superseded": [ids["D_IND_1"]],
    }
    # Declared SLV 1, IRBM 1, MRBM 1; the unannounced SRBM launch is missing from the declaration.
    assert row["launches"] == {
        "declared": 3,
        "notified": 3,
        "reported": 4,
        "cancelled": 0,
        "consistent": False,
        "by_class": {
            "SRBM": figures(0, 0, 1, False),
            "MRBM": figures(1, 1, 1, True),
            "IRBM": figures(1, 1, 1, True),
            "SLV": figures(1, 1, 1, True),
        },
    }
    assert row["unannounced"] == {"count": 1, "ids": [ids["U1"]]}
    assert row["findings"] == {"notifications": 1, "rules": {"window.max_length": 1}, "ids": [ids["N2"]]}
    # N1 and N2 went to PAK, FRA, BRA; N3 to PAK only: 7 expected. PAK acknowledged all three,
    # FRA only N1, BRA nothing.
    acks = row["acknowledgements"]
    assert {k: acks[k] for k in ("expected", "received", "missing")} == {
        "expected": 7,
        "received": 4,
        "missing": 3,
    }
    assert acks["median_seconds"] == pytest.approx(
        median_of(seeded, [ids["N1"], ids["N2"], ids["N3"]]), abs=2e-3
    )


def test_every_row_of_the_regime(seeded: Seeded) -> None:
    ids = seeded.ids
    body = report(seeded, seeded.pak, regime="hcoc")
    assert body["year"] == YEAR and body["viewer"] == "PAK" and body["deadlines"] == {"hcoc": DUE}
    by_state = rows(body)
    assert sorted(by_state) == [("hcoc", s) for s in ("BRA", "FRA", "IND", "PAK")]

    pak = by_state[("hcoc", "PAK")]
    assert pak["access"] == "full"
    assert pak["declaration"]["status"] == "on-time" and pak["declaration"]["id"] == ids["D_PAK"]
    # N4 was cancelled; N5's window closed without a post-launch report.
    assert pak["launches"] == {
        "declared": 1,
        "notified": 1,
        "reported": 0,
        "cancelled": 1,
        "consistent": False,
        "by_class": {"MRBM": figures(1, 1, 0, False)},
    }
    assert pak["unannounced"] == {"count": 0, "ids": []}
    assert pak["findings"] == {"notifications": 0, "rules": {}, "ids": []}
    assert pak["acknowledgements"] == {
        "expected": 6,
        "received": 1,
        "missing": 5,
        "median_seconds": pytest.approx(median_of(seeded, [ids["N5"]]), abs=2e-3),
    }

    fra = by_state[("hcoc", "FRA")]
    assert fra["access"] == "visible"
    assert fra["declaration"]["status"] == "on-time" and fra["declaration"]["superseded"] == []
    assert fra["launches"] == {
        "declared": 0,
        "notified": 0,
        "reported": 0,
        "cancelled": 0,
        "consistent": True,
        "by_class": {},
    }

    bra = by_state[("hcoc", "BRA")]
    assert bra["declaration"] == {"status": "due", "due": DUE, "on_time": None}
    assert bra["launches"]["consistent"] is None
    assert bra["acknowledgements"] == {"expected": 0, "received": 0, "missing": 0, "median_seconds": None}

    # PAK sees the bilateral N3 (addressed to it) in IND's row, as IND does.
    assert by_state[("hcoc", "IND")]["launches"]["by_class"]["MRBM"] == figures(1, 1, 1, True)


def test_late_and_missing_declarations(seeded: Seeded) -> None:
    today = datetime.now(UTC).date()
    if (today.month, today.day) == (1, 1):
        pytest.skip("on 1 January a deadline of 01-01 has not passed yet")
    set_rules(seeded.exchange, declaration_deadline="01-01", max_window_days=3)
    by_state = rows(report(seeded, seeded.auditor, regime="hcoc"))
    due = f"{YEAR + 1}-01-01"
    for state in ("IND", "PAK", "FRA"):
        declaration = by_state[("hcoc", state)]["declaration"]
        assert (declaration["status"], declaration["due"], declaration["on_time"]) == ("late", due, False)
    assert by_state[("hcoc", "BRA")]["declaration"] == {"status": "missing", "due": due, "on_time": None}


def test_a_third_state_sees_only_what_was_addressed_to_it(seeded: Seeded) -> None:
    ids = seeded.ids
    response = seeded.client.get("/v1/reports/compliance", params={"year": YEAR}, headers=seeded.fra.headers)
    body = response.json()
    # FRA is a member of hcoc only: no row of the confidential in-pk-2005 regime.
    assert {regime for regime, _ in rows(body)} == {"hcoc"}
    ind = rows(body)[("hcoc", "IND")]
    assert ind["access"] == "visible"
    # N3 and its report P3 went to PAK only: FRA's view of IND has no MRBM notification or report.
    assert ind["launches"] == {
        "declared": 3,
        "notified": 2,
        "reported": 3,
        "cancelled": 0,
        "consistent": False,
        "by_class": {
            "SRBM": figures(0, 0, 1, False),
            "MRBM": figures(1, 0, 0, False),
            "IRBM": figures(1, 1, 1, True),
            "SLV": figures(1, 1, 1, True),
        },
    }
    # Acknowledgements of N1 and N2 only (N3 is not visible to FRA): 6 expected, PAK x2 + FRA.
    acks = ind["acknowledgements"]
    assert (acks["expected"], acks["received"], acks["missing"]) == (6, 3, 3)
    for hidden in ("N3", "P3", "N_PK"):
        assert ids[hidden] not in response.text


@pytest.mark.parametrize("viewer", ["operator", "outsider"])
def test_operator_and_other_auditors_get_counts_only(seeded: Seeded, viewer: str) -> None:
    actor = seeded.exchange.operator if viewer == "operator" else seeded.outsider
    response = seeded.client.get("/v1/reports/compliance", params={"year": YEAR}, headers=actor.headers)
    assert response.status_code == 200
    counted = rows(response.json())
    # Every state of every regime with members, confidential ones included...
    assert sorted(counted) == [("hcoc", s) for s in ("BRA", "FRA", "IND", "PAK")] + [
        ("in-pk-2005", "IND"),
        ("in-pk-2005", "PAK"),
    ]
    # ...as counts only: no document id, no rule id, no class anywhere in the answer.
    for document_id in seeded.ids.values():
        assert document_id not in response.text
    for word in ("window.max_length", "keepout", "MRBM", "SLV", "by_class", '"ids"', '"rules"', "filed_at"):
        assert word not in response.text
    for row in counted.values():
        assert row["access"] == "counts"
        assert set(row["declaration"]) == {"status", "due", "on_time"}
        assert set(row["unannounced"]) == {"count"} and set(row["findings"]) == {"notifications"}

    # The counts are those of every document, as the entrusted auditor reads them in full.
    full = rows(report(seeded, seeded.auditor, regime="hcoc"))
    for key, row in full.items():
        assert row["access"] == "full"
        launches = {k: v for k, v in row["launches"].items() if k != "by_class"}
        assert counted[key]["launches"] == launches
        assert counted[key]["unannounced"]["count"] == row["unannounced"]["count"]
        assert counted[key]["findings"]["notifications"] == row["findings"]["notifications"]
        assert counted[key]["acknowledgements"] == row["acknowledgements"]
        assert counted[key]["declaration"]["status"] == row["declaration"]["status"]
    # The confidential in-pk-2005 notification is counted, with its finding and the missing ack.
    pk = counted[("in-pk-2005", "IND")]
    assert pk["launches"]["notified"] == 1 and pk["findings"]["notifications"] == 1
    assert pk["declaration"] == {"status": "none", "due": None, "on_time": None}
    assert (pk["acknowledgements"]["expected"], pk["acknowledgements"]["received"]) == (1, 0)


def test_an_entrusted_auditor_reads_rows_as_their_states_do(seeded: Seeded) -> None:
    audited = rows(report(seeded, seeded.auditor))
    for state, actor in (("IND", seeded.ind), ("PAK", seeded.pak)):
        own = rows(report(seeded, actor, regime="hcoc"))[("hcoc", state)]
        assert audited[("hcoc", state)] == own
    assert audited[("in-pk-2005", "IND")]["access"] == "counts"  # not entrusted with in-pk-2005


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.mark.parametrize("viewer", ["ind", "operator"])
def test_csv_round_trips(seeded: Seeded, viewer: str) -> None:
    actor = seeded.exchange.operator if viewer == "operator" else seeded.ind
    body = report(seeded, actor)
    response = seeded.client.get(
        "/v1/reports/compliance", params={"year": YEAR}, headers={**actor.headers, "Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(response.text)))
    assert len(parsed) == len(body["rows"])
    for line, row in zip(parsed, body["rows"], strict=True):
        declaration, launches, acks = row["declaration"], row["launches"], row["acknowledgements"]
        expected = {
            "regime": row["regime"],
            "state": row["state"],
            "access": row["access"],
            "declaration_status": declaration["status"],
            "declaration_id": declaration.get("id"),
            "declaration_due": declaration["due"],
            "declaration_on_time": declaration["on_time"],
            "declared": launches["declared"],
            "notified": launches["notified"],
            "reported": launches["reported"],
            "cancelled": launches["cancelled"],
            "consistent": launches["consistent"],
            "unannounced": row["unannounced"]["count"],
            "findings": row["findings"]["notifications"],
            "acks_expected": acks["expected"],
            "acks_received": acks["received"],
            "acks_missing": acks["missing"],
            "ack_median_seconds": acks["median_seconds"],
        }
        assert {k: line[k] for k in expected} == {k: _cell(v) for k, v in expected.items()}
        if "filed_at" in declaration:
            assert when(line["declaration_filed_at"]) == when(declaration["filed_at"])
        if row["access"] == "counts":
            assert line["unannounced_ids"] == line["finding_rules"] == line["SLV_declared"] == ""
            continue
        assert line["unannounced_ids"].split(";") == (row["unannounced"]["ids"] or [""])
        assert line["finding_ids"].split(";") == (row["findings"]["ids"] or [""])
        rules = ";".join(f"{k}={v}" for k, v in row["findings"]["rules"].items())
        assert line["finding_rules"] == rules
        for cls, numbers in launches["by_class"].items():
            for figure in ("declared", "notified", "reported"):
                assert line[f"{cls}_{figure}"] == str(numbers[figure])


def test_scope_and_parameters(seeded: Seeded) -> None:
    c, headers = seeded.client, seeded.fra.headers
    assert c.get("/v1/reports/compliance", headers=headers).status_code == 422  # year is required
    assert c.get("/v1/reports/compliance", params={"year": 1900}, headers=headers).status_code == 422
    missing = c.get("/v1/reports/compliance", params={"year": YEAR, "regime": "nope"}, headers=headers)
    assert missing.status_code == 404
    # A regime FRA is not a member of: no rows rather than other states' business.
    assert report(seeded, seeded.fra, regime="in-pk-2005")["rows"] == []
    assert c.get("/v1/reports/compliance", params={"year": YEAR}).status_code == 401
    # Another year has no declarations and no launches on record.
    other = rows(report(seeded, seeded.ind, regime="hcoc", year=YEAR - 1))[("hcoc", "IND")]
    assert other["launches"]["notified"] == other["launches"]["reported"] == 0
    assert other["declaration"]["status"] in ("missing", "due")
