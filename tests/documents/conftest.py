"""A small exchange of states, an observer and auditors, built through the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.fixtures import Actor, Exchange


@dataclass
class World:
    """IND, PAK, FRA and the observer ICAO_APAC in ``hcoc``; IND and PAK in ``in-pk-2005``;
    HCOC_AUDIT entrusted with ``hcoc``; RESEARCH an auditor entrusted with nothing."""

    exchange: Exchange
    ind: Actor
    pak: Actor
    fra: Actor
    observer: Actor
    hcoc_auditor: Actor
    auditor: Actor

    @property
    def client(self):  # type: ignore[no-untyped-def]
        return self.exchange.client

    @property
    def operator(self) -> Actor:
        return self.exchange.operator


@pytest.fixture
def world(exchange: Exchange) -> World:
    return World(
        exchange=exchange,
        ind=exchange.add("IND", regimes=("hcoc", "in-pk-2005")),
        pak=exchange.add("PAK", regimes=("hcoc", "in-pk-2005")),
        fra=exchange.add("FRA", regimes=("hcoc",)),
        observer=exchange.add("ICAO_APAC", "observer", regimes=("hcoc",)),
        hcoc_auditor=exchange.add("HCOC_AUDIT", "auditor", regimes=("hcoc",), key=None, scopes="read"),
        auditor=exchange.add("RESEARCH", "auditor", key=None, scopes="read"),
    )
