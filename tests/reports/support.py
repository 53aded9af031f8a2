"""A seeded reporting year built through the HTTP API, and payload builders the reports need.

The year reported on is ``YEAR`` = last calendar year, so that its declarations are due this
year and every window of it lies in the past (what a compliance report looks at).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.documents.builders import follow_up, next_id, point, pre_launch, submit, ts
from tests.fixtures import Actor, Exchange

YEAR = datetime.now(UTC).year - 1


def at(month: int, day: int, hour: int = 6, year: int = YEAR) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def declaration(
    issuer: str,
    year: int,
    launches: list[tuple[str, str, int]],
    *,
    regime: str = "hcoc",
    recipients: list[str] | None = None,
) -> dict[str, Any]:
    """An annual declaration; ``launches`` as (category, generic_class, count)."""
    return {
        "type": "annual-declaration",
        "id": next_id(issuer, year + 1),
        "issuer": issuer,
        "issued_at": ts(datetime.now(UTC)),
        "regime": regime,
        "recipients": recipients or ["*"],
        "year": year,
        "ballistic_missile_policy": "Deterrence; test flights are notified.",
        "slv_policy": "Civil space programme.",
        "launches": [{"category": c, "generic_class": g, "count": n} for c, g, n in launches],
        "launch_sites": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [80.23, 13.72]},
                "properties": {"name": "Test range", "category": "space-launch-vehicle"},
            }
        ],
    }


def post_launch(
    issuer: str,
    launched_at: datetime,
    generic_class: str,
    *,
    references: str | None = None,
    recipients: list[str] | None = None,
    regime: str = "hcoc",
) -> dict[str, Any]:
    category = "space-launch-vehicle" if generic_class == "SLV" else "ballistic-missile"
    payload: dict[str, Any] = {
        "type": "post-launch",
        "id": next_id(issuer, launched_at.year),
        "issuer": issuer,
        "issued_at": ts(datetime.now(UTC)),
        "regime": regime,
        "recipients": recipients or ["*"],
        "launched_at": ts(launched_at),
        "outcome": "nominal",
        "vehicle": {"category": category, "generic_class": generic_class},
    }
    if references:
        payload["references"] = references
    return payload


def accept(client: Any, actor: Actor, payload: dict[str, Any]) -> str:
    response = submit(client, actor, payload)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def acknowledge(client: Any, actor: Actor, references: str, recipients: list[str] | None = None) -> str:
    return accept(client, actor, follow_up(actor.code, "acknowledgement", references, recipients=recipients))


def set_rules(exchange: Exchange, regime: str = "hcoc", **rules: Any) -> None:
    response = exchange.client.patch(
        f"/v1/regimes/{regime}", json={"rules": rules}, headers=exchange.operator.headers
    )
    assert response.status_code == 200, response.text


@dataclass
class Seeded:
    """The seeded year. Notifications N*, post-launch reports P*, unannounced U1, declarations D*."""

    exchange: Exchange
    ind: Actor
    pak: Actor
    fra: Actor
    bra: Actor
    auditor: Actor  # entrusted with hcoc
    outsider: Actor  # an auditor entrusted with nothing
    ids: dict[str, str] = field(default_factory=dict)
    acks: dict[str, list[str]] = field(default_factory=dict)  # notification -> acknowledgement ids

    @property
    def client(self) -> Any:
        return self.exchange.client


def seed_year(exchange: Exchange) -> Seeded:
    """IND, PAK, FRA, BRA in hcoc (IND, PAK also in in-pk-2005); what each did in ``YEAR``:

    - IND: N1 SLV (all), N2 IRBM 5-day window (all; finding window.max_length), N3 MRBM addressed
      to PAK only, each followed by its post-launch report (P3 to PAK only); U1 an SRBM launch
      never notified; declaration D_IND_1 superseded by D_IND_2 (SLV 1, IRBM 1, MRBM 1: the
      SRBM is missing from it); N_PK a confidential in-pk-2005 notification to PAK.
    - PAK: N4 SRBM cancelled (C4); N5 MRBM whose window closed unreported; declaration MRBM 1.
    - FRA: a declaration of no launches. BRA: nothing.
    - Acknowledgements: PAK of N1, N2, N3; FRA of N1; IND of N5. BRA acknowledges nothing.
    """
    seeded = Seeded(
        exchange=exchange,
        ind=exchange.add("IND", regimes=("hcoc", "in-pk-2005")),
        pak=exchange.add("PAK", regimes=("hcoc", "in-pk-2005")),
        fra=exchange.add("FRA", regimes=("hcoc",)),
        bra=exchange.add("BRA", regimes=("hcoc",)),
        auditor=exchange.add("HCOC_AUDIT", role="auditor", scopes="read", regimes=("hcoc",), key=None),
        outsider=exchange.add("RESEARCH", role="auditor", scopes="read", key=None),
    )
    set_rules(exchange, declaration_deadline="12-31", max_window_days=3)
    c, ind, pak, fra = seeded.client, seeded.ind, seeded.pak, seeded.fra
    ids = seeded.ids

    ids["N1"] = accept(c, ind, pre_launch("IND", start=at(3, 10), generic_class="SLV"))
    ids["N2"] = accept(c, ind, pre_launch("IND", start=at(6, 1), days=5, generic_class="IRBM"))
    ids["N3"] = accept(c, ind, pre_launch("IND", start=at(9, 1), generic_class="MRBM", recipients=["PAK"]))
    ids["P1"] = accept(c, ind, post_launch("IND", at(3, 10, 7), "SLV", references=ids["N1"]))
    ids["P2"] = accept(c, ind, post_launch("IND", at(6, 2), "IRBM", references=ids["N2"]))
    ids["P3"] = accept(
        c, ind, post_launch("IND", at(9, 1, 8), "MRBM", references=ids["N3"], recipients=["PAK"])
    )
    ids["U1"] = accept(c, ind, post_launch("IND", at(11, 1), "SRBM"))
    ids["D_IND_1"] = accept(c, ind, declaration("IND", YEAR, [("space-launch-vehicle", "SLV", 2)]))
    ids["D_IND_2"] = accept(
        c,
        ind,
        declaration(
            "IND",
            YEAR,
            [
                ("space-launch-vehicle", "SLV", 1),
                ("ballistic-missile", "IRBM", 1),
                ("ballistic-missile", "MRBM", 1),
            ],
        ),
    )
    ids["N_PK"] = accept(
        c,
        ind,
        pre_launch(
            "IND",
            regime="in-pk-2005",
            recipients=["PAK"],
            start=at(10, 1),
            generic_class="SRBM",
            launch=point(75.0, 25.0, 5, "Secret range"),
        ),
    )

    ids["N4"] = accept(c, pak, pre_launch("PAK", start=at(4, 1), generic_class="SRBM"))
    ids["C4"] = accept(c, pak, follow_up("PAK", "cancellation", ids["N4"], reason="weather"))
    ids["N5"] = accept(c, pak, pre_launch("PAK", start=at(12, 29), generic_class="MRBM"))
    ids["D_PAK"] = accept(c, pak, declaration("PAK", YEAR, [("ballistic-missile", "MRBM", 1)]))

    ids["D_FRA"] = accept(c, fra, declaration("FRA", YEAR, []))

    seeded.acks = {
        ids["N1"]: [acknowledge(c, pak, ids["N1"]), acknowledge(c, fra, ids["N1"])],
        ids["N2"]: [acknowledge(c, pak, ids["N2"])],
        ids["N3"]: [acknowledge(c, pak, ids["N3"], recipients=["IND"])],
        ids["N5"]: [acknowledge(c, ind, ids["N5"])],
    }
    return seeded


def integrated_time(client: Any, actor: Actor, document_id: str) -> datetime:
    response = client.get(f"/v1/documents/{document_id}", headers=actor.headers)
    assert response.status_code == 200, response.text
    return datetime.fromisoformat(response.json()["integrated_time"].replace("Z", "+00:00"))


def ack_delays(seeded: Seeded, notifications: list[str]) -> list[float]:
    """Seconds from each notification to each of its acknowledgements, read back through the API."""
    c, ind = seeded.client, seeded.ind
    delays = []
    for notification in notifications:
        sent = integrated_time(c, ind, notification)
        for ack in seeded.acks.get(notification, []):
            delays.append((integrated_time(c, ind, ack) - sent).total_seconds())
    return delays


def later(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)
