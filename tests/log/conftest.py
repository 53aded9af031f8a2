"""Fixtures of the log tests: a session factory on the test database and a log signer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lnx_client.core import note
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from tests.log.support import ORIGIN


@pytest.fixture
def factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.resolved_database_url, pool_size=4)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


@pytest.fixture
def signer() -> note.Signer:
    return note.Signer.from_skey(note.generate_signer(ORIGIN)[0])
