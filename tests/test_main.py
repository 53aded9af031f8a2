"""Process-level start-up of a served app."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app


def test_a_served_app_freezes_its_startup_objects(settings) -> None:  # type: ignore[no-untyped-def]
    gc.unfreeze()
    try:
        assert Settings.model_fields["gc_freeze_after_startup"].default is False  # the tests build many apps
        with TestClient(create_app(settings.model_copy(update={"gc_freeze_after_startup": False}))) as client:
            assert client.get("/healthz").status_code == 200
            assert gc.get_freeze_count() == 0

        with TestClient(create_app(settings.model_copy(update={"gc_freeze_after_startup": True}))) as client:
            assert client.get("/healthz").status_code == 200
            assert gc.get_freeze_count() > 10_000  # modules, the app, SQLAlchemy's metadata
    finally:
        gc.unfreeze()
