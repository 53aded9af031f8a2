"""Health, readiness, the JSON access log and the OpenAPI document."""

from __future__ import annotations

import json
import logging


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    checks = r.json()["checks"]
    assert checks["database"]["ok"] and checks["schema"]["ok"] and checks["schema"]["state"] == "current"


def test_one_json_log_line_per_request(exchange, settings):
    from fastapi.testclient import TestClient

    from app.logging_setup import JsonFormatter
    from app.main import create_app

    ind = exchange.add("IND")
    logger = logging.getLogger("lnx.access")
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    logger.addHandler(handler)
    try:
        settings.access_log = True  # the test settings switch it off; this app logs
        with TestClient(create_app(settings)) as client:
            client.get("/v1/participants/IND", headers={**ind.headers, "X-Request-ID": "req-log-test-1"})
    finally:
        logger.removeHandler(handler)
    [record] = [r for r in records if getattr(r, "request_id", None) == "req-log-test-1"]
    line = json.loads(JsonFormatter().format(record))
    assert line["participant"] == "IND"
    assert line["route"] == "/v1/participants/{code}"
    assert line["status"] == 200
    assert line["latency_ms"] >= 0
    assert line["request_id"] == "req-log-test-1"


def test_openapi_lists_the_contract_endpoints(client):
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    for path in (
        "/v1/documents",
        "/v1/documents/{document_id}",
        "/v1/participants",
        "/v1/regimes",
        "/v1/tokens",
    ):
        assert path in paths
    assert "application/jose" in spec["paths"]["/v1/documents"]["post"]["requestBody"]["content"]
