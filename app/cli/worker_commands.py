"""``lnx worker``: the webhook delivery worker as its own process (beside or instead of ``serve``'s)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from app.cli.common import DatabaseUrlOpt, DataDirOpt, apply_server_options, fail

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        database_url: DatabaseUrlOpt = None,
        data_dir: DataDirOpt = None,
        concurrency: Annotated[int, typer.Option(min=1, max=1000, help="Deliveries in flight at once.")] = 32,
        grace: Annotated[
            float, typer.Option(min=0, help="Seconds in-flight deliveries get to finish on SIGTERM/SIGINT.")
        ] = 10.0,
    ) -> None:
        """Deliver webhooks (fan-out, retries, leases) until SIGTERM or SIGINT."""
        from app.feed.lifecycle import run_worker
        from app.logging_setup import configure_logging
        from app.main import SchemaNotCurrent

        settings = apply_server_options(database_url, data_dir)
        configure_logging(settings.log_level)
        try:
            asyncio.run(run_worker(settings, concurrency=concurrency, grace_s=grace))
        except SchemaNotCurrent as exc:
            fail(str(exc), code=3)
