"""Helpers of the operations tests: a small populated log, and running the log check on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.config import Settings
from app.db import make_engine, make_sessionmaker, session_scope
from app.ops import backup
from app.ops.logcheck import LogCheckReport
from tests.documents.builders import follow_up, pre_launch, submit
from tests.fixtures import Exchange
from tests.fixtures import execute_sql as execute  # noqa: F401 - the ops tests' name for it


@dataclass
class Populated:
    """What ``populate`` accepted: receipts by document id."""

    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return 1 + max(r["log_index"] for r in self.receipts.values())


def populate(exchange: Exchange, notifications: int = 6) -> Populated:
    """IND notifies ``notifications`` launches to hcoc, FRA acknowledges the first: a few log entries."""
    ind = exchange.add("IND", regimes=("hcoc",))
    fra = exchange.add("FRA", regimes=("hcoc",))
    out = Populated()
    for _ in range(notifications):
        response = submit(exchange.client, ind, pre_launch("IND"))
        assert response.status_code == 201, response.text
        out.receipts[response.json()["id"]] = response.json()
    first = next(iter(out.receipts))
    response = submit(exchange.client, fra, follow_up("FRA", "acknowledgement", first))
    assert response.status_code == 201, response.text
    out.receipts[response.json()["id"]] = response.json()
    return out


def run_check(settings: Settings, **kwargs: Any) -> LogCheckReport:
    verifier = kwargs.pop("verifier", None) or backup.verifier_for(settings)
    engine = make_engine(settings.resolved_database_url, pool_size=1)
    try:
        for session in session_scope(make_sessionmaker(engine), read_only=True):
            return backup.check_log(session, verifier, origin=settings.log_origin, **kwargs)
    finally:
        engine.dispose()
    raise AssertionError("unreachable")
