"""Fixtures that build real data through the public API (the operator bootstrap uses the CLI's path)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lnx_client.core import jwk as core_jwk
from sqlalchemy import text

from app.auth import service as auth_service
from app.config import Settings
from app.db import make_engine, make_sessionmaker, session_scope
from app.main import create_app
from app.participants import service as participants_service
from app.participants.schemas import ParticipantCreate


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def bootstrap_operator(settings: Settings, code: str = "ICC") -> str:
    """What `lnx admin participant add` + `lnx admin token issue` do on a fresh exchange."""
    engine = make_engine(settings.resolved_database_url, pool_size=1)
    try:
        for session in session_scope(make_sessionmaker(engine)):
            participants_service.add_participant(
                session, ParticipantCreate(code=code, name="Operator", role="operator")
            )
            token = auth_service.issue_token(session, code, "read,submit,admin").token
    finally:
        engine.dispose()
    return token


@dataclass
class Actor:
    code: str
    role: str
    token: str
    private_jwk: dict[str, Any] | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def kid(self) -> str:
        assert self.private_jwk is not None
        return core_jwk.thumbprint(core_jwk.public_jwk_from_private(self.private_jwk))


@dataclass
class Exchange:
    """A running exchange in a test, with helpers that go through the HTTP API as the operator would."""

    client: TestClient
    operator: Actor
    actors: dict[str, Actor] = field(default_factory=dict)

    def add(
        self,
        code: str,
        role: str = "state",
        *,
        scopes: str = "read,submit",
        regimes: tuple[str, ...] = (),
        key: str | None = "Ed25519",
    ) -> Actor:
        op = self.operator.headers
        r = self.client.post(
            "/v1/participants", json={"code": code, "name": f"{code} test", "role": role}, headers=op
        )
        assert r.status_code == 201, r.text
        private = None
        if key:
            private = core_jwk.generate_private_jwk(key)  # type: ignore[arg-type]
            public = core_jwk.public_jwk_from_private(private)
            r = self.client.post(f"/v1/participants/{code}/keys", json={"jwk": public}, headers=op)
            assert r.status_code == 201, r.text
        r = self.client.post(
            "/v1/tokens", json={"participant": code, "scopes": scopes.split(",")}, headers=op
        )
        assert r.status_code == 201, r.text
        token = r.json()["token"]
        for regime in regimes:
            if role == "auditor":
                r = self.client.post(f"/v1/regimes/{regime}/auditors", json={"participant": code}, headers=op)
            else:
                r = self.client.post(f"/v1/regimes/{regime}/members", json={"participant": code}, headers=op)
            assert r.status_code == 200, r.text
        actor = Actor(code=code, role=role, token=token, private_jwk=private)
        self.actors[code] = actor
        return actor


@pytest.fixture
def operator_token(settings: Settings) -> str:
    return bootstrap_operator(settings)


@pytest.fixture
def exchange(client: TestClient, operator_token: str) -> Exchange:
    return Exchange(client=client, operator=Actor(code="ICC", role="operator", token=operator_token))


def execute_sql(settings: Settings, sql: str, **params: Any) -> None:
    """Run SQL on the test database behind the application's back, as another server process
    (or a tamperer) would: no session of the application sees it coming."""
    engine = make_engine(settings.resolved_database_url, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()
