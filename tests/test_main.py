"""Process-level start-up of a served app."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app


def test_a_served_app_freezes_its_startup_objects(settings) -> None:  # type: ignore[no-untyped-def]
    gc.unfreeze()
    thresholds = gc.get_threshold()
    try:
        assert Settings.model_fields["gc_freeze_after_startup"].default is False  # the tests build many apps
        with TestClient(create_app(settings.model_copy(update={"gc_freeze_after_startup": False}))) as client:
            assert client.get("/healthz").status_code == 200
            assert gc.get_freeze_count() == 0
            assert gc.get_threshold() == thresholds  # a test process keeps CPython's collector as it is

        with TestClient(create_app(settings.model_copy(update={"gc_freeze_after_startup": True}))) as client:
            assert client.get("/healthz").status_code == 200
            assert gc.get_freeze_count() > 10_000  # modules, the app, SQLAlchemy's metadata
            assert gc.get_threshold() == (settings.gc_young_threshold, *thresholds[1:])
            assert settings.gc_young_threshold == 50_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_no_other_router_has_a_path_the_documents_router_would_take(settings) -> None:  # type: ignore[no-untyped-def]
    """The documents router comes first (it carries the submissions); that must change no route."""
    app = create_app(settings)
    first, *rest = [route for route in app.router.routes if hasattr(route, "original_router")]
    documents = [r for r in first.original_router.routes if hasattr(r, "path_regex")]
    assert {r.path for r in documents} >= {"/v1/documents", "/v1/documents/{document_id}"}
    others = [r for included in rest for r in included.original_router.routes if hasattr(r, "path")]
    assert len(others) > 20
    for other in others:
        concrete = other.path.replace("{", "x").replace("}", "")
        assert not any(d.path_regex.match(concrete) for d in documents), other.path
