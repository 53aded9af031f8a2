"""Starts the log with the app: loads (or creates) the key, signs the first checkpoint, runs the integrator.

``main.create_app`` enters ``run(app)`` at startup. Afterwards:

- ``app.state.log_signer`` / ``app.state.log_verifier_key``: the log's key and its verifier string;
- ``app.state.log_integrator``: the ``Integrator``; the submit path awaits ``wait_integrated``;
- ``app.state.log_tiles``: the in-process cache of immutable tiles;
- ``app.state.readiness_probes["log_key"]`` / ``["log_integrator"]`` report on them in ``/readyz``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI

from app.log.integrator import Integrator
from app.log.signer import load_or_create_signer
from app.log.tilecache import TileCache

__all__ = ["run", "wait_integrated", "DEFAULT_WAIT_S"]

DEFAULT_WAIT_S = 10.0
"""How long a submitter waits for a checkpoint covering its entry before giving up (503)."""


async def wait_integrated(app: FastAPI, index: int, timeout: float = DEFAULT_WAIT_S) -> int:
    """Return once a signed checkpoint covers entry ``index`` (integrating right away if needed).

    Call it after the transaction that sequenced the entry has committed; returns the tree size.
    """
    integrator: Integrator = app.state.log_integrator
    return await integrator.wait_integrated(index, timeout)


@asynccontextmanager
async def run(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    signer = await anyio.to_thread.run_sync(load_or_create_signer, settings)
    app.state.log_signer = signer
    app.state.log_verifier_key = signer.vkey
    app.state.log_tiles = TileCache()
    integrator = Integrator(
        app.state.sessionmaker,
        signer,
        settings.log_origin,
        interval_s=settings.integrate_interval_ms / 1000,
    )
    await anyio.to_thread.run_sync(integrator.bootstrap)
    app.state.log_integrator = integrator

    def key_probe() -> dict[str, Any]:
        return {"ok": True, "key": signer.vkey}

    def integrator_probe() -> dict[str, Any]:
        return {"ok": integrator.last_error is None, "size": integrator.size, "error": integrator.last_error}

    app.state.readiness_probes["log_key"] = key_probe
    app.state.readiness_probes["log_integrator"] = integrator_probe
    integrator.start()
    try:
        yield
    finally:
        await integrator.stop()
