"""``/metrics``: traffic per route template, the exchange's state from the database, access control."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.main import create_app
from app.ops import metrics
from tests.documents.builders import follow_up, pre_launch, submit
from tests.fixtures import Exchange

LOCAL = ("127.0.0.1", 50000)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """The exchange as seen from the host itself (the default allow list admits loopback only)."""
    with TestClient(app, raise_server_exceptions=False, client=LOCAL) as test_client:
        yield test_client


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float | None:  # type: ignore[type-arg]
    return samples.get((name, tuple(sorted(labels.items()))))


def test_requests_are_counted_per_route_template_not_per_path(exchange: Exchange) -> None:
    ind = exchange.add("IND", regimes=("hcoc",))
    fra = exchange.add("FRA", regimes=("hcoc",))
    ids = []
    for _ in range(3):
        response = submit(exchange.client, ind, pre_launch("IND"))
        assert response.status_code == 201
        ids.append(response.json()["id"])
    for doc_id in ids:
        assert exchange.client.get(f"/v1/documents/{doc_id}", headers=ind.headers).status_code == 200
    assert exchange.client.get("/v1/documents/IND-2026-nope", headers=ind.headers).status_code == 404
    assert exchange.client.get("/no/such/path").status_code == 404
    assert submit(exchange.client, fra, follow_up("FRA", "acknowledgement", ids[0])).status_code == 201

    samples = scrape(exchange.client)
    route = "/v1/documents/{document_id}"
    assert value(samples, "lnx_http_requests_total", method="GET", route=route, status="200") == 3
    assert value(samples, "lnx_http_requests_total", method="GET", route=route, status="404") == 1
    assert value(samples, "lnx_http_requests_total", method="POST", route="/v1/documents", status="201") == 4
    assert value(samples, "lnx_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert value(samples, "lnx_http_request_duration_seconds_count", method="GET", route=route) == 4
    assert not any("IND-2026" in str(labels) for _, labels in samples)

    # State read from the database: documents by type, the log's size and lag.
    assert value(samples, "lnx_documents_accepted_total", type="pre-launch") == 3
    assert value(samples, "lnx_documents_accepted_total", type="acknowledgement") == 1
    assert value(samples, "lnx_documents_accepted_total", type="annual-declaration") == 0
    assert value(samples, "lnx_log_tree_size") == 4
    assert value(samples, "lnx_log_sequenced_entries") == 4
    assert value(samples, "lnx_log_integration_lag_entries") == 0
    assert 0 <= (value(samples, "lnx_log_checkpoint_age_seconds") or -1) < 60
    assert value(samples, "lnx_database_up") == 1
    assert value(samples, "lnx_webhook_backlog") == 0
    assert value(samples, "lnx_feed_subscribers_open") == 0


def test_a_request_over_the_body_limit_is_counted(exchange: Exchange) -> None:
    response = exchange.client.post("/v1/documents", content=b"x" * 300_000)
    assert response.status_code == 413
    samples = scrape(exchange.client)
    assert value(samples, "lnx_http_requests_total", method="POST", route="<unmatched>", status="413") == 1


def _app(settings: Settings, **changes: object):  # type: ignore[no-untyped-def]
    return create_app(settings.model_copy(update=changes))


def test_metrics_are_refused_outside_the_allowed_networks(settings: Settings) -> None:
    with TestClient(_app(settings), client=("203.0.113.9", 40000)) as outsider:
        response = outsider.get("/metrics")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "urn:lnx:problem:metrics-forbidden"
    with TestClient(
        _app(settings, metrics_allow=["203.0.113.0/24"]), client=("203.0.113.9", 40000)
    ) as client:
        assert client.get("/metrics").status_code == 200


def test_metrics_can_be_turned_off(settings: Settings) -> None:
    with TestClient(_app(settings, metrics_enabled=False), client=LOCAL) as client:
        response = client.get("/metrics")
        assert response.status_code == 404
        assert response.json()["type"] == "urn:lnx:problem:metrics-disabled"
        assert client.get("/healthz").status_code == 200


def test_a_database_outage_is_reported_not_raised() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2", pool_size=1)
    try:
        collector = metrics.ExchangeCollector(make_sessionmaker(engine))
        families = {f.name: f for f in collector.collect()}
    finally:
        engine.dispose()
    assert families["lnx_database_up"].samples[0].value == 0
    assert "lnx_documents_accepted" not in families


@pytest.mark.parametrize(
    "host,allowed",
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.1.2.3", False),
        ("testclient", False),
        (None, False),
    ],
)
def test_client_allowed(host: str | None, allowed: bool) -> None:
    assert metrics.client_allowed(host, ["127.0.0.1/32", "::1/128", "not-a-network"]) is allowed


def test_open_subscribers_reads_the_feed_slots_or_a_published_counter() -> None:
    assert metrics.open_subscribers(SimpleNamespace()) == 0
    assert metrics.open_subscribers(SimpleNamespace(feed=SimpleNamespace(slots=SimpleNamespace(used=7)))) == 7
    assert metrics.open_subscribers(SimpleNamespace(feed_subscribers=3)) == 3
    assert metrics.open_subscribers(SimpleNamespace(feed_subscribers=lambda: 4)) == 4
    assert metrics.open_subscribers(SimpleNamespace(feed_subscribers={"a", "b"})) == 2
