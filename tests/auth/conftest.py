"""Fixtures of the authentication tests: a long cache TTL, so that what the cache decides shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.config import Settings


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "auth_settings(**values): override Settings fields for this test")


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": tmp_path / "data",
        "log_origin": "lnx.test/log",
        "access_log": False,
        "integrate_interval_ms": 20,
        "rate_limit_per_minute": 0,
        "run_webhook_worker": False,
        "auth_cache_ttl_s": 300,
    }
    marker = request.node.get_closest_marker("auth_settings")
    if marker is not None:
        values.update(marker.kwargs)
    return Settings(**values)
