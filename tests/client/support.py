"""Helpers of the client and CLI tests: payloads built with the client's own builders, tampering."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from lnx_client import Receipt, build_pre_launch, circle_area, sign_document, vehicle
from sqlalchemy import create_engine, text

from tests.client.live import LiveExchange, Party

_serial = itertools.count(1)


def next_id(code: str) -> str:
    return f"{code}-2026-{next(_serial):04d}"


def pre_launch(party: Party, **kw: Any) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
    fields: dict[str, Any] = {
        "id": next_id(party.code),
        "issuer": party.code,
        "regime": "hcoc",
        "vehicle": vehicle("space-launch-vehicle", "SLV", "PSLV"),
        "window_start": start,
        "window_end": start + timedelta(days=2),
        "launch_area": circle_area(80.23, 13.72, 5, "Sriharikota"),
        "azimuth_deg": 135,
        "impact_areas": [circle_area(86.0, 8.0, 50)],
    }
    fields.update(kw)
    return build_pre_launch(**fields)


def submit(live: LiveExchange, party: Party, payload: dict[str, Any]) -> Receipt:
    assert party.private_jwk is not None
    with live.client(party.token) as client:
        return client.submit(sign_document(payload, party.private_jwk))


def execute(live: LiveExchange, *statements: tuple[str, dict[str, Any]]) -> None:
    """Change the exchange's database behind its back (what an attacker or a bug would do)."""
    engine = create_engine(live.settings.resolved_database_url)
    try:
        with engine.begin() as conn:
            for sql, params in statements:
                conn.execute(text(sql), params)
    finally:
        engine.dispose()


def delete_document(live: LiveExchange, document_id: str) -> None:
    """Remove a document row and the rows that refer to it; its log entry stays."""
    p = {"id": document_id}
    execute(
        live,
        ("DELETE FROM feed_deliveries WHERE seq IN (SELECT seq FROM feed_events WHERE document_id = :id)", p),
        ("DELETE FROM feed_events WHERE document_id = :id", p),
        ("DELETE FROM document_recipients WHERE document_id = :id", p),
        ("DELETE FROM document_chains WHERE id = :id", p),
        ("DELETE FROM documents WHERE id = :id", p),
    )
