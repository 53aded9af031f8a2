"""Per-token rate limits: a token bucket per token id, 429 with ``Retry-After`` beyond it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.ops.ratelimit import TokenBucketLimiter
from tests.fixtures import Exchange


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(60, burst=3, clock=clock)  # one per second, three at once
    assert [limiter.acquire("t") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("t") == pytest.approx(1.0)
    assert limiter.acquire("other") == 0.0  # buckets are per token
    clock.now += 0.5
    assert limiter.acquire("t") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("t") == 0.0
    clock.now += 3600
    assert [limiter.acquire("t") for _ in range(3)] == [0.0, 0.0, 0.0]  # refills to the burst, no more


def test_idle_buckets_are_forgotten() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(60, burst=3, clock=clock)
    for i in range(100):
        limiter.acquire(f"token-{i}")
    assert len(limiter) == 100
    clock.now += 120
    limiter.acquire("fresh")
    assert len(limiter) == 1


def test_default_burst_is_one_minute() -> None:
    limiter = TokenBucketLimiter(120)
    assert all(limiter.acquire("t") == 0.0 for _ in range(120))
    assert limiter.acquire("t") > 0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"rate_limit_per_minute": 60, "rate_limit_burst": 12})


def test_a_token_over_its_limit_gets_429_with_retry_after(exchange: Exchange) -> None:
    ind = exchange.add("IND", regimes=("hcoc",))
    fra = exchange.add("FRA", regimes=("hcoc",))
    statuses = [exchange.client.get("/v1/documents", headers=ind.headers).status_code for _ in range(12)]
    assert statuses == [200] * 12
    response = exchange.client.get("/v1/documents", headers=ind.headers)
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "1"
    problem = response.json()
    assert problem["type"] == "urn:lnx:problem:rate-limited"
    assert problem["limit_per_minute"] == 60 and problem["retry_after"] == 1
    # Another token of the exchange is not affected; requests without a token are 401, not counted.
    assert exchange.client.get("/v1/documents", headers=fra.headers).status_code == 200
    assert exchange.client.get("/v1/documents").status_code == 401
    # Public endpoints are never limited.
    assert all(exchange.client.get("/v1/log/checkpoint").status_code == 200 for _ in range(20))


@pytest.fixture
def unlimited(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"rate_limit_per_minute": 0}))
    with TestClient(app) as client:
        yield client


def test_zero_turns_the_limiter_off(unlimited: TestClient, settings: Settings) -> None:
    from tests.fixtures import bootstrap_operator

    token = bootstrap_operator(settings)
    headers = {"Authorization": f"Bearer {token}"}
    assert all(unlimited.get("/v1/participants", headers=headers).status_code == 200 for _ in range(80))
    assert getattr(unlimited.app.state, "rate_limiter", None) is None  # type: ignore[attr-defined]
