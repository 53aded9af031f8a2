"""Token lifecycle: issue (shown once), use, last-used, expiry, revocation; scopes and roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from app.db import make_engine, make_sessionmaker, session_scope
from app.participants.models import ApiToken


def test_issue_use_list_revoke(exchange):
    client, op = exchange.client, exchange.operator.headers
    exchange.add("IND")
    r = client.post(
        "/v1/tokens", json={"participant": "IND", "scopes": ["read"], "expires_in_days": 30}, headers=op
    )
    assert r.status_code == 201
    issued = r.json()
    token, token_id = issued["token"], issued["id"]
    assert token.startswith("lnx_") and len(token) >= 4 + 43  # 256 bits, base64url
    assert datetime.fromisoformat(issued["expires_at"]) > datetime.now(UTC) + timedelta(days=29)
    assert client.get("/v1/participants", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listed = {t["id"]: t for t in client.get("/v1/tokens", params={"participant": "IND"}, headers=op).json()}
    assert "token" not in listed[token_id]
    assert listed[token_id]["last_used_at"] is not None
    r = client.post(f"/v1/tokens/{token_id}/revoke", headers=op)
    assert r.status_code == 200 and r.json()["revoked_at"]
    r = client.get("/v1/participants", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["type"] == "urn:lnx:problem:invalid-token"


def test_only_hashes_are_stored(exchange, settings):
    token = exchange.add("IND").token
    engine = make_engine(settings.resolved_database_url, pool_size=1)
    try:
        for session in session_scope(make_sessionmaker(engine)):
            stored = [t.token_hash for t in session.query(ApiToken).all()]
    finally:
        engine.dispose()
    assert token not in stored and all(len(h) == 64 for h in stored)


def test_expired_token_is_refused(exchange, settings):
    ind = exchange.add("IND")
    engine = make_engine(settings.resolved_database_url, pool_size=1)
    try:
        for session in session_scope(make_sessionmaker(engine)):
            session.execute(
                update(ApiToken)
                .where(ApiToken.participant_code == "IND")
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
    finally:
        engine.dispose()
    r = exchange.client.get("/v1/participants", headers=ind.headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_admin_scope_only_for_operators_and_bad_scopes_refused(exchange):
    client, op = exchange.client, exchange.operator.headers
    exchange.add("IND")
    r = client.post("/v1/tokens", json={"participant": "IND", "scopes": ["admin"]}, headers=op)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/scopes"
    r = client.post("/v1/tokens", json={"participant": "IND", "scopes": ["write"]}, headers=op)
    assert r.status_code == 422
    r = client.post("/v1/tokens", json={"participant": "NOPE", "scopes": ["read"]}, headers=op)
    assert r.status_code == 404
    r = client.post("/v1/tokens/tok_missing/revoke", headers=op)
    assert r.status_code == 404


def test_malformed_authorization_headers(client, operator_token):
    for header in ("Basic abc", "Bearer", f"Token {operator_token}", "Bearer notlnx_x"):
        r = client.get("/v1/participants", headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.headers["www-authenticate"] == 'Bearer realm="lnx"'
