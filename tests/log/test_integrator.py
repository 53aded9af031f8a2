"""The per-process integrator: waiting submitters, coalesced runs, an unreachable database."""

from __future__ import annotations

import asyncio

import pytest

from app.db import make_engine, make_sessionmaker, session_scope
from app.log import repository, service
from app.log.integrator import Integrator
from tests.log.support import ORIGIN, append, leaf_datas


def test_waiters_share_integrations_and_see_their_entries(factory, signer):
    for session in session_scope(factory):
        service.ensure_checkpoint(session, signer, ORIGIN)
    indexes = [i for batch in range(5) for i, _ in append(factory, leaf_datas(batch * 3, 3))]

    async def scenario() -> list[int]:
        integrator = Integrator(factory, signer, ORIGIN, interval_s=60)
        return await asyncio.gather(*(integrator.wait_integrated(i, 5.0) for i in indexes))

    sizes = asyncio.run(scenario())
    assert all(size >= i + 1 for size, i in zip(sizes, indexes, strict=True))
    with factory() as session:
        assert service.tree_size(session) == 15
        # Fifteen waiters, one integration: they queued on the lock and found their entry covered.
        assert [s for s in range(16) if repository.has_checkpoint(session, s)] == [0, 15]


def test_background_loop_picks_up_pending_leaves(factory, signer):
    append(factory, leaf_datas(0, 4))

    async def scenario() -> int:
        integrator = Integrator(factory, signer, ORIGIN, interval_s=0.01)
        integrator.start()
        try:
            for _ in range(500):
                if integrator.size >= 4:
                    break
                await asyncio.sleep(0.01)
        finally:
            await integrator.stop()
        return integrator.size

    assert asyncio.run(scenario()) == 4


def test_unreachable_database_times_out_as_not_integrated(tmp_path, signer):
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'nowhere.sqlite3'}", pool_size=1)
    integrator = Integrator(make_sessionmaker(engine), signer, ORIGIN, interval_s=60)
    with pytest.raises(service.NotIntegrated):
        asyncio.run(integrator.wait_integrated(0, 0.3))
    assert integrator.last_error == "OperationalError"
    engine.dispose()
