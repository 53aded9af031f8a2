"""Helpers of the log tests: made-up leaves, committed sequencing and integration."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from lnx_client.core import entry, note
from sqlalchemy.orm import Session, sessionmaker

from app.db import session_scope
from app.log import service

ORIGIN = "lnx.test/log"


def leaf_datas(start: int, count: int) -> list[bytes]:
    """Canonical lnx-entry/v1 leaves for made-up JWS strings."""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    return [entry.entry_bytes(f"header.payload-{i}.signature", when) for i in range(start, start + count)]


def append(factory: sessionmaker[Session], datas: list[bytes]) -> list[tuple[int, bytes]]:
    """Sequence leaves in one committed transaction (what the submit path does)."""
    for session in session_scope(factory):
        sequenced = service.sequence_many(session, datas, datetime.now(UTC))
    return sequenced


def integrate(
    factory: sessionmaker[Session], signer: note.Signer, **kw: int
) -> service.CheckpointRecord | None:
    for session in session_scope(factory):
        record = service.integrate(session, signer, ORIGIN, **kw)
    return record


def wait_for_size(client: TestClient, size: int, timeout: float = 10.0) -> str:
    """Poll ``/v1/log/checkpoint`` until the background integrator has signed ``size``; return the note."""
    deadline = time.monotonic() + timeout
    while True:
        text = client.get("/v1/log/checkpoint").text
        if int(text.split("\n")[1]) >= size:
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"the log did not reach size {size}: {text!r}")
        time.sleep(0.01)
