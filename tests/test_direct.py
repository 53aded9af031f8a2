"""Direct routes (app/direct.py): the same answers as FastAPI's path, without its machinery.

The submission route is served directly in every test of the suite; here are the parts of the
mechanism that those do not reach: an unexpected error, a handler looked up by class, a body
that outgrows the limit while it streams, and the declaration it must match.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, Request, Response
from fastapi.testclient import TestClient

from app.direct import DirectRoutes, ExchangeApp
from app.errors import Conflict, install_error_handlers
from app.middleware import RequestContextMiddleware

router = APIRouter()


@router.post("/things", status_code=201)
async def declared(request: Request) -> Response:  # pragma: no cover - the direct endpoint serves it
    raise AssertionError("FastAPI's path must not be taken for a direct route")


async def direct_endpoint(request: Request) -> Response:
    kind = request.query_params.get("fail")
    if kind == "conflict":
        raise Conflict("already there", code="thing-exists")
    if kind == "bug":
        raise RuntimeError("a bug")
    body = await request.body()
    route = request.scope["route"]
    return Response(f"{len(body)} {route.path}", 201)


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = ExchangeApp()
    install_error_handlers(app)
    app.include_router(router)
    app.direct_routes.add(router, "POST", "/things", direct_endpoint)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=64)
    app.wrap_direct_routes(lambda direct: RequestContextMiddleware(direct, max_body_bytes=64))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_direct_route_runs_its_endpoint_with_the_declared_route_in_scope(client: TestClient) -> None:
    response = client.post("/things", content=b"abc", headers={"x-request-id": "direct-0001"})

    assert (response.status_code, response.text) == (201, "3 /things")
    assert response.headers["x-request-id"] == "direct-0001"


def test_other_methods_and_paths_take_fastapis_path(client: TestClient) -> None:
    assert client.get("/things").status_code == 405
    assert client.post("/things/1").status_code == 404
    assert "/things" in client.get("/openapi.json").json()["paths"]


def test_an_error_with_a_handler_is_its_problem_document(client: TestClient) -> None:
    response = client.post("/things?fail=conflict")

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:lnx:problem:thing-exists"
    assert response.json()["instance"] == f"urn:lnx:request:{response.headers['x-request-id']}"


def test_an_unexpected_error_is_a_logged_500_problem(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="lnx.errors"):
        response = client.post("/things?fail=bug")

    assert response.status_code == 500
    assert response.json()["type"] == "urn:lnx:problem:internal-error"
    assert "a bug" not in response.text
    assert any(record.exc_info and "a bug" in str(record.exc_info[1]) for record in caplog.records)


def test_a_body_outgrowing_the_limit_while_streaming_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is met while reading
        yield b"x" * 40
        yield b"x" * 40

    response = client.post("/things", content=chunks())

    assert response.status_code == 413
    assert response.json()["type"] == "urn:lnx:problem:payload-too-large"


def test_a_direct_route_must_be_declared_once() -> None:
    with pytest.raises(ValueError, match="exactly one declared GET /things"):
        DirectRoutes().add(router, "GET", "/things", direct_endpoint)
